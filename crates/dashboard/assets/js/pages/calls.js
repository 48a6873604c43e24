// Call log `#/calls`: search, sort, pages; the state lives in the hash
// (`#/calls?page=2&search=ab&sort=duration_seconds&order=asc`); refreshed live.

import { download, query } from '../api.js';
import { h } from '../dom.js';
import { pagedList } from '../list.js';
import { CALL_COLUMNS, callRow } from '../rows.js';

export default function calls(ctx) {
  return pagedList(ctx, {
    name: 'calls',
    title: 'Call log',
    caption: 'Calls',
    nouns: ['call', 'calls'],
    columns: CALL_COLUMNS,
    row: (c) => callRow(c),
    search: { label: 'Search by phone or customer name', placeholder: 'e.g. 555 or Maria' },
    sort: {
      default: ['started_at', 'desc'],
      headers: { Started: 'started_at', Duration: 'duration_seconds', Score: 'satisfaction_score' },
    },
    // Every call of the current search, in the current order (the pages are the screen's).
    actions: (current) => {
      const csv = h('button', { id: 'download-csv', type: 'button' }, 'Download CSV');
      csv.addEventListener('click', () => {
        const { search, sort, order } = current();
        const path = `/api/admin/calls/export.csv${query({ search, sort_by: sort, sort_order: order })}`;
        ctx.run(() => download(path, 'calls.csv'));
      });
      return [csv];
    },
    live: true,
  });
}
