// Call detail `#/calls/{id}`: the call, its customer, the transcript, the event timeline.

import { ApiError, getText } from '../api.js';
import { h } from '../dom.js';
import { member, parse, pretty } from '../json.js';
import { badge, clock, duration, text, whenLong, words, yesNo } from '../format.js';

/** `#not-found` with the API's detail. */
export function notFound(main, heading, detail) {
  main.replaceChildren(
    h('h1', { tabindex: '-1' }, heading),
    h('p', { id: 'not-found', class: 'empty', role: 'status' }, detail),
    h('p', {}, h('a', { href: '#/calls' }, 'Back to the call log')),
  );
}

function meta(pairs) {
  return pairs.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value ?? '—')]);
}

function turnOf(turn) {
  if (turn && typeof turn === 'object' && !Array.isArray(turn)) {
    const said = typeof turn.text === 'string' ? turn.text : JSON.stringify(turn.text ?? '');
    return { speaker: turn.speaker == null ? '' : String(turn.speaker), said, at: turn.timestamp };
  }
  return { speaker: '', said: typeof turn === 'string' ? turn : JSON.stringify(turn), at: null };
}

export default function call({ main, params: [id], signal }) {
  const heading = h('h1', { id: 'call-title', tabindex: '-1' }, `Call #${id}`);
  const section = h(
    'section',
    { id: 'call-detail', 'aria-labelledby': 'call-title' },
    heading,
    h('p', { class: 'loading', role: 'status' }, 'Loading the call…'),
  );
  main.append(h('p', { class: 'crumbs' }, h('a', { href: '#/calls' }, '‹ Call log')), section);

  async function load() {
    let body;
    try {
      body = await getText(`/api/admin/calls/${encodeURIComponent(id)}`, { signal });
    } catch (e) {
      if (e instanceof ApiError) {
        notFound(main, `Call #${id}`, e.message);
        return;
      }
      throw e;
    }
    const data = JSON.parse(body);
    // Each event's data exactly as the API printed it (numbers too), indented.
    const printed = (member(parse(body), 'events') || []).map((e) => pretty(member(e, 'data') ?? null));
    const c = data.call;
    const escalated = c.escalated ? `Yes${c.escalation_reason ? ` — ${c.escalation_reason}` : ''}` : yesNo(c.escalated);

    const customer = data.customer
      ? h(
          'section',
          { id: 'customer-card', class: 'panel card-customer', 'aria-labelledby': 'customer-title' },
          h('h2', { id: 'customer-title' }, 'Customer'),
          h('p', { class: 'name' }, h('a', { href: `#/customers/${data.customer.id}` }, text(data.customer.name))),
          h('dl', { class: 'meta' }, meta([
            ['Phone', text(data.customer.phone)],
            ['Email', text(data.customer.email)],
          ])),
        )
      : h(
          'section',
          { id: 'customer-card', class: 'panel card-customer empty', 'aria-labelledby': 'customer-title' },
          h('h2', { id: 'customer-title' }, 'Customer'),
          h('p', {}, 'No customer is linked to this call.'),
        );

    const turns = Array.isArray(data.transcript) ? data.transcript.map(turnOf) : [];
    const transcript = h(
      'ol',
      { id: 'transcript', class: 'transcript' },
      turns.length
        ? turns.map((t) =>
            h(
              'li',
              { class: `turn ${t.speaker === 'assistant' ? 'from-assistant' : t.speaker === 'customer' ? 'from-customer' : 'from-other'}`, 'data-speaker': t.speaker },
              h('p', { class: 'who' }, h('span', { class: 'speaker' }, t.speaker ? words(t.speaker) : 'unknown'), ' ', clock(t.at)),
              h('p', { class: 'said' }, t.said),
            ),
          )
        : h('li', { class: 'empty' }, 'No transcript was recorded.'),
    );

    const events = h(
      'ol',
      { id: 'events', class: 'timeline' },
      data.events.length
        ? data.events.map((e, i) =>
            h(
              'li',
              { class: 'event', 'data-event-type': e.event_type },
              h('p', { class: 'what' }, h('span', { class: 'type' }, words(e.event_type)), ' ', clock(e.timestamp) || '—'),
              h('pre', { tabindex: '0', 'aria-label': `Data of ${words(e.event_type)}` }, printed[i] ?? JSON.stringify(e.data, null, 2)),
            ),
          )
        : h('li', { class: 'empty' }, 'No events were recorded.'),
    );

    section.replaceChildren(
      heading,
      h(
        'div',
        { class: 'detail-grid' },
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'meta-title' },
          h('h2', { id: 'meta-title' }, 'Call'),
          h('dl', { id: 'call-meta', class: 'meta' }, meta([
            ['Session', h('code', {}, text(c.session_id))],
            ['Phone', text(c.phone_number)],
            ['Started', whenLong(c.started_at)],
            ['Ended', whenLong(c.ended_at)],
            ['Duration', duration(c.duration_seconds)],
            ['Outcome', badge('outcome', c.outcome)],
            ['Sentiment', badge('sentiment', c.sentiment)],
            ['Score', typeof c.satisfaction_score === 'number' ? String(c.satisfaction_score) : '—'],
            ['Escalated', escalated],
          ])),
        ),
        customer,
      ),
      h('section', { class: 'panel', 'aria-labelledby': 'transcript-title' }, h('h2', { id: 'transcript-title' }, 'Transcript'), transcript),
      h('section', { class: 'panel', 'aria-labelledby': 'events-title' }, h('h2', { id: 'events-title' }, 'Events'), events),
    );
  }

  return { title: `Call #${id}`, load };
}
