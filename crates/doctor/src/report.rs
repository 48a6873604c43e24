//! The doctor's result: [`Report`], a list of [`Check`]s in the order they were made,
//! and [`Checks`], which builds it and hands each check on as soon as it is made.

/// How a check came out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// Fine (`✓`).
    Fine,
    /// Worth a look; nothing has to be fixed (`!`).
    Warn,
    /// Must be fixed (`✗`): `ava doctor` exits 7.
    Fail,
}

/// One line of the doctor's screen.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Check {
    /// Which check made it: `connection`, `reachable`, `tls`, `server`, `migrations`,
    /// `schema`, `tables`, `row-level security`, `policies`, `privileges`, `functions`,
    /// `sequences` or `rows`. One check may make several lines.
    pub name: &'static str,
    pub status: Status,
    /// What was found, as printed (it starts with what was checked: `TLS: TLSv1.3 …`).
    pub detail: String,
    /// What to do (none for a fine check).
    pub fix: Option<String>,
}

/// Every check made, in order, and the (redacted) URL they were made against.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Report {
    /// The target's URL without its password.
    pub target: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// How many checks must be fixed.
    pub fn failed(&self) -> usize {
        self.count(Status::Fail)
    }

    /// How many checks are worth a look.
    pub fn warned(&self) -> usize {
        self.count(Status::Warn)
    }

    /// Whether nothing must be fixed.
    pub fn passed(&self) -> bool {
        self.failed() == 0
    }

    /// The checks named `name`, in order.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Check> + 'a {
        self.checks.iter().filter(move |c| c.name == name)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

/// Builds a [`Report`], telling `each` of every check as it is made.
pub(crate) struct Checks<'a> {
    report: Report,
    each: &'a mut dyn FnMut(&Check),
}

impl<'a> Checks<'a> {
    pub(crate) fn new(target: String, each: &'a mut dyn FnMut(&Check)) -> Checks<'a> {
        Checks {
            report: Report {
                target,
                checks: Vec::new(),
            },
            each,
        }
    }

    fn push(&mut self, name: &'static str, status: Status, detail: String, fix: Option<String>) {
        let check = Check {
            name,
            status,
            detail,
            fix: fix.filter(|_| status != Status::Fine),
        };
        (self.each)(&check);
        self.report.checks.push(check);
    }

    pub(crate) fn fine(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Status::Fine, detail.into(), None);
    }

    pub(crate) fn warn(
        &mut self,
        name: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(name, Status::Warn, detail.into(), Some(fix.into()));
    }

    pub(crate) fn fail(
        &mut self,
        name: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(name, Status::Fail, detail.into(), Some(fix.into()));
    }

    pub(crate) fn done(self) -> Report {
        self.report
    }
}
