//! What `ava migrate` does, decided from what it found — pure functions, no I/O, so the
//! rules are tested without a database. [`crate::writer`] gathers the facts (the
//! target's counts, an interrupted run, the scan's verdict, the comparison of the rows
//! already there) and acts on the decisions.
//!
//! The rules, in order: bad cells refuse (unless `--on-error skip`); `--resume` with an
//! interrupted run resumes it; an empty target is copied into; otherwise the rows
//! already there are compared: identical is done, different is replaced with
//! `--force` and refused without. A dry run decides the same and writes nothing.

use crate::{Action, Interrupted};

/// What `--resume` comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    /// Not asked for.
    No,
    /// Asked for, but no run was interrupted: the run migrates as usual.
    NoneInterrupted,
    /// Finish this interrupted run.
    Run(i64),
}

impl Resume {
    /// `--resume` (`wanted`) against the interrupted run found, if any.
    pub(crate) fn new(interrupted: Option<&Interrupted>, wanted: bool) -> Resume {
        match (interrupted, wanted) {
            (Some(i), true) => Resume::Run(i.run),
            (None, true) => Resume::NoneInterrupted,
            (_, false) => Resume::No,
        }
    }

    /// The run to finish, if any.
    pub(crate) fn run(self) -> Option<i64> {
        match self {
            Resume::Run(run) => Some(run),
            Resume::No | Resume::NoneInterrupted => None,
        }
    }
}

/// Whether the file is read once, copying while it is checked: only a plain run into
/// an empty target (should a row turn out bad, it empties the target again). Every
/// other run checks the whole file before it writes anything.
pub(crate) fn streams(empty: bool, resume: Resume, skipping: bool, dry_run: bool) -> bool {
    empty && resume.run().is_none() && !skipping && !dry_run
}

/// What is known once the file is scanned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    /// The scan found cells that cannot be stored.
    pub(crate) bad_input: bool,
    /// `--on-error skip`: bad rows are left out instead of refusing the run.
    pub(crate) skipping: bool,
    pub(crate) resume: Resume,
    /// The target holds no rows.
    pub(crate) empty: bool,
}

/// The first decision: an action, or "compare the rows already in the target".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    Act(Action),
    /// The target holds rows: whether they are the source's decides
    /// ([`after_comparing`]).
    Compare,
}

/// Decides what the run does from [`Facts`].
pub(crate) fn plan(facts: &Facts) -> Plan {
    if facts.bad_input && !facts.skipping {
        Plan::Act(Action::BadInput)
    } else if facts.resume.run().is_some() {
        Plan::Act(Action::Resume)
    } else if facts.empty {
        Plan::Act(Action::Copy)
    } else {
        Plan::Compare
    }
}

/// The decision of [`Plan::Compare`]: the target's rows are the source's or not.
pub(crate) fn after_comparing(identical: bool, force: bool) -> Action {
    if identical {
        Action::AlreadyMigrated
    } else if force {
        Action::Replace
    } else {
        Action::Refuse
    }
}

/// What follows the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// The target holds the source: finish what a complete run ends with.
    Finish,
    /// Copy the rows.
    Copy,
    /// A dry run: report what would happen.
    Report,
    /// Refuse: the file has cells that cannot be stored.
    RefuseBadCells,
    /// Refuse: the target holds other rows.
    RefuseNotEmpty,
}

/// What `action` leads to, with or without `--dry-run`.
pub(crate) fn next(action: Action, dry_run: bool) -> Next {
    match (action, dry_run) {
        (Action::AlreadyMigrated, _) => Next::Finish,
        (_, true) => Next::Report,
        (Action::Copy | Action::Replace | Action::Resume, false) => Next::Copy,
        (Action::BadInput, false) => Next::RefuseBadCells,
        (Action::Refuse, false) => Next::RefuseNotEmpty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interrupted(run: i64) -> Interrupted {
        Interrupted {
            run,
            started_at: "2026-01-01 00:00:00+00".into(),
            rows_copied: 10,
        }
    }

    fn facts() -> Facts {
        Facts {
            bad_input: false,
            skipping: false,
            resume: Resume::No,
            empty: true,
        }
    }

    #[test]
    fn resume_needs_both_the_flag_and_an_interrupted_run() {
        let run = interrupted(7);
        assert_eq!(Resume::new(Some(&run), true), Resume::Run(7));
        assert_eq!(Resume::new(None, true), Resume::NoneInterrupted);
        assert_eq!(Resume::new(Some(&run), false), Resume::No);
        assert_eq!(Resume::new(None, false), Resume::No);
        assert_eq!(Resume::NoneInterrupted.run(), None);
    }

    #[test]
    fn only_a_plain_run_into_an_empty_target_streams() {
        assert!(streams(true, Resume::No, false, false));
        // Nothing to resume: migrates as usual.
        assert!(streams(true, Resume::NoneInterrupted, false, false));
        assert!(!streams(false, Resume::No, false, false));
        assert!(!streams(true, Resume::Run(3), false, false));
        assert!(!streams(true, Resume::No, true, false));
        assert!(!streams(true, Resume::No, false, true));
    }

    #[test]
    fn bad_cells_refuse_before_anything_else_unless_skipping() {
        let bad = Facts {
            bad_input: true,
            resume: Resume::Run(1),
            ..facts()
        };
        assert_eq!(plan(&bad), Plan::Act(Action::BadInput));
        let skipping = Facts {
            skipping: true,
            ..bad
        };
        assert_eq!(plan(&skipping), Plan::Act(Action::Resume));
    }

    #[test]
    fn a_resumed_run_copies_even_into_a_target_with_rows() {
        let resume = Facts {
            resume: Resume::Run(4),
            empty: false,
            ..facts()
        };
        assert_eq!(plan(&resume), Plan::Act(Action::Resume));
    }

    #[test]
    fn an_empty_target_is_copied_into_and_a_full_one_compared() {
        assert_eq!(plan(&facts()), Plan::Act(Action::Copy));
        let full = Facts {
            empty: false,
            ..facts()
        };
        assert_eq!(plan(&full), Plan::Compare);
        let nothing_to_resume = Facts {
            empty: false,
            resume: Resume::NoneInterrupted,
            ..facts()
        };
        assert_eq!(plan(&nothing_to_resume), Plan::Compare);
    }

    #[test]
    fn the_comparison_decides_done_replace_or_refuse() {
        assert_eq!(after_comparing(true, false), Action::AlreadyMigrated);
        assert_eq!(after_comparing(true, true), Action::AlreadyMigrated);
        assert_eq!(after_comparing(false, true), Action::Replace);
        assert_eq!(after_comparing(false, false), Action::Refuse);
    }

    #[test]
    fn a_dry_run_only_reports_and_an_identical_target_is_finished() {
        for action in [
            Action::Copy,
            Action::Replace,
            Action::Resume,
            Action::BadInput,
            Action::Refuse,
        ] {
            assert_eq!(next(action, true), Next::Report, "{action:?}");
        }
        assert_eq!(next(Action::AlreadyMigrated, true), Next::Finish);
        assert_eq!(next(Action::AlreadyMigrated, false), Next::Finish);
        assert_eq!(next(Action::Copy, false), Next::Copy);
        assert_eq!(next(Action::Replace, false), Next::Copy);
        assert_eq!(next(Action::Resume, false), Next::Copy);
        assert_eq!(next(Action::BadInput, false), Next::RefuseBadCells);
        assert_eq!(next(Action::Refuse, false), Next::RefuseNotEmpty);
    }
}
