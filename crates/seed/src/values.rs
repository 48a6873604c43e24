//! Values spelled as the app spells them that are more than a word from the vocabulary:
//! phone numbers, calendar event ids, session ids and recording URLs, and the bijection
//! that makes random-looking ids unique.

use std::fmt::{self, Display};

/// A caller's phone. Customers' are `+1310555xxxx` for the first 9,999 and stay unique
/// after; other callers' never start with +1310, so they match no customer.
pub(crate) enum Phone {
    Customer(i64),
    Other(&'static str, u32),
}

impl Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phone::Customer(i) => write!(f, "+1310{}", 5_550_000 + i),
            Phone::Other(area, number) => write!(f, "+1{area}{number}"),
        }
    }
}

/// A Google-Calendar-shaped event id (lowercase hex, a subset of its base32hex).
pub(crate) struct CalendarId(pub(crate) u64);

impl Display for CalendarId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A uuid-shaped session id: 64 random bits and 64 bits that are a bijection of the
/// call id, so ids look random yet can never collide.
#[derive(Clone, Copy)]
pub(crate) struct SessionId(pub(crate) u64, pub(crate) u64);

impl Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SessionId(hi, lo) = *self;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )
    }
}

pub(crate) struct RecordingUrl(pub(crate) SessionId);

impl Display for RecordingUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://recordings.example.com/{}.wav", self.0)
    }
}

/// splitmix64's finalizer: a bijection on u64, used to derive unique random-looking ids.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
