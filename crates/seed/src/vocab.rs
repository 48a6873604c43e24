//! The words the seed draws from. Lists marked "hard" hold one case each that a
//! migration must carry unchanged; the generator cycles through them at a fixed rate so
//! every small seed contains all of them.

/// Hard customer names: accents, decomposed accents, CJK, RTL, emoji (with ZWJ), quotes.
pub(crate) const HARD_NAMES: [&str; 10] = [
    "Olivia O'Brien",
    "Jess \"JJ\" Park",
    "Chloé García-Müller",
    "李伟",
    "نور حداد",
    "דנה לוי",
    "Zoë 🌸 Parker",
    "Zoe\u{301} Nguyễn",
    "Dr. 👩\u{200d}⚕\u{fe0f} Kim",
    "Renée D'Angelo-Núñez",
];

pub(crate) const FIRST: [&str; 20] = [
    "Olivia", "Emma", "Ava", "Sofía", "Chloé", "Zoë", "Anaïs", "Oğuz", "Wei", "Priya", "Mateo",
    "Noah", "Liam", "Lucas", "Harper", "Isabella", "Mia", "Amara", "Jason", "Yuki",
];

pub(crate) const LAST: [&str; 16] = [
    "Smith",
    "Johnson",
    "García",
    "Müller",
    "Nguyen",
    "Patel",
    "O'Brien",
    "D'Angelo",
    "Kowalski",
    "Søndergaard",
    "Chen",
    "李",
    "Brown",
    "Parker",
    "Rivera",
    "Lee",
];

/// Customer notes; hard: tab, newline, CRLF, backslashes, quotes, emoji, CJK.
pub(crate) const NOTES: [&str; 9] = [
    "Prefers afternoons",
    "VIP — comp'd HydraFacial in May\nfollow up",
    "Allergic to lidocaine; see chart",
    "Prefs:\tno texts\tcall mornings",
    "Intake form at C:\\Clinic\\forms\\intake.pdf",
    "Prefers texts 📱",
    "Speaks 中文 and English",
    "Said \"no more filler\" — respect that",
    "Line one\r\nLine two (typed on Windows)",
];

pub(crate) const SERVICES: [&str; 10] = [
    "Botox",
    "Dermal Fillers",
    "Lip Filler",
    "HydraFacial",
    "Chemical Peel",
    "Microneedling",
    "Laser Hair Removal",
    "IPL Photofacial",
    "CoolSculpting",
    "Consultation",
];

pub(crate) const PROVIDERS: [&str; 4] = [
    "Dr. Sarah Smith",
    "Dr. Miguel Ángel Ortiz",
    "Jess \"JJ\" Park",
    "Lisa Lee, RN",
];

pub(crate) const SPECIAL_REQUESTS: [&str; 5] = [
    "Numbing cream please",
    "Wheelchair access",
    "Allergic to lidocaine;\tuse an alternative",
    "Prefers Dr. \"Miguel\"\nCall before 10am",
    "",
];

pub(crate) const CANCELLATION_REASONS: [&str; 4] = [
    "Schedule conflict",
    "Feeling unwell 🤒",
    "Found a cheaper clinic \\ price",
    "",
];

pub(crate) const ESCALATION_REASONS: [&str; 4] = [
    "Medical question — transferred to nurse",
    "Caller asked for a human",
    "Complaint about \"uneven\" filler results",
    "Billing dispute\tref #A\\113",
];

/// What callers say; hard: tab, newline, CRLF, backslash, quotes, emoji, CJK, RTL.
pub(crate) const CUSTOMER_LINES: [&str; 12] = [
    "Hi, I'd like to book Botox for next Tuesday?",
    "2:30 works — thanks!\tMy number is the same.",
    "Is it safe while breastfeeding? Asking for a \"friend\"\\sister.",
    "Do you have anything Saturday? 😊",
    "¿Tienen citas para mañana? Hablo español.",
    "我想预约水光针。",
    "مرحبا، أريد حجز موعد",
    "My last filler was logged at C:\\Glow\\2024 — can you check?",
    "First question\nand a second one",
    "Can I bring my daughter? 👩\u{200d}👧 She's 16.",
    "Price for lip filler?\r\nAnd for Botox?",
    "Thanks! 😂😂",
];

pub(crate) const ASSISTANT_LINES: [&str; 6] = [
    "Of course! We have 10:00 AM or 2:30 PM available.",
    "Great, you're booked. Anything else? 😊",
    "I'll connect you with our nurse for medical questions.\nOne moment please.",
    "Botox is $12/unit — most clients need 20–40 units.",
    "Sorry, could you repeat that?",
    "Your confirmation code is \"GLOW-42\".",
];

/// Transcripts from before the app stored JSON; one starts with `[` and still is not JSON.
pub(crate) const LEGACY_TRANSCRIPTS: [&str; 4] = [
    "Customer asked about Botox pricing.",
    "Caller booked a Botox session (legacy plain-text note).",
    "Voicemail: call back re \"filler\" touch-up.\nPrefers texts.",
    "[voicemail] Caller hung up before the greeting.",
];

pub(crate) const INTENTS: [&str; 6] = [
    "book_appointment",
    "reschedule_appointment",
    "cancel_appointment",
    "pricing_question",
    "medical_question",
    "hours_location",
];

pub(crate) const FUNCTIONS: [&str; 4] = [
    "check_availability",
    "book_appointment",
    "get_services",
    "lookup_customer",
];

pub(crate) const SENTIMENT_NOTES: [&str; 4] = [
    "customer laughed 😂",
    "sounded frustrated 😤",
    "relieved — said \"perfect\"",
    "",
];

pub(crate) const ERRORS: [&str; 3] = [
    "calendar timeout",
    "twilio: 503 Service Unavailable",
    "tool error: KeyError('date')",
];

pub(crate) const SENTIMENTS: [(&str, u32); 4] = [
    ("positive", 45),
    ("neutral", 35),
    ("negative", 12),
    ("mixed", 8),
];

pub(crate) const OUTCOMES: [(&str, u32); 7] = [
    ("booked", 28),
    ("rescheduled", 6),
    ("cancelled", 4),
    ("info_only", 25),
    ("escalated", 7),
    ("abandoned", 10),
    ("browsing", 20),
];

pub(crate) const STATUSES: [(&str, u32); 5] = [
    ("scheduled", 50),
    ("completed", 30),
    ("cancelled", 8),
    ("no_show", 5),
    ("rescheduled", 7),
];

/// Event types that fill the middle of a call (the first is always `intent_detected`;
/// a booked or escalated call ends with `appointment_booked` / `escalation_triggered`).
pub(crate) const MIDDLE_EVENTS: [(&str, u32); 4] = [
    ("function_called", 50),
    ("sentiment_change", 25),
    ("intent_detected", 15),
    ("error_occurred", 10),
];
