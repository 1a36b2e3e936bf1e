//! The client commands' arguments, as clap parses them.

use super::*;

/// The client's commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Log in with the API token from your building (trades it for a token of
    /// this computer, then pulls your doors and codes).
    Login(LoginArgs),
    /// Log out and forget everything stored here (queued requests included).
    Logout,
    /// Who is logged in, the server, queued requests and receipts (no network).
    Status,
    /// Your doors: the ones your codes open and the shared ones you relay.
    Doors,
    /// Your codes with their state on each lock, or one code.
    Codes(CodesArgs),
    /// When your codes opened doors ("Dog walker's code opened Unit 4B at
    /// 09:14"), newest first, as the last sync brought them (no network).
    Uses(UsesArgs),
    /// Be told by email or SMS each time a code opens a door, or stop.
    Notify(NotifyArgs),
    /// Your contact details for those messages: show them, or set them.
    Contact(ContactArgs),
    /// A backup code for a guest code that should open a door now but has
    /// not reached it: 8 digits the lock holds, good for one entry.
    Backup(BackupArgs),
    /// Generate a new code of your own (the server draws it).
    Generate(GenerateArgs),
    /// Pick your own code: checked against every rule here first.
    Pick(PickArgs),
    /// Give a code new digits (picked, or generated without CODE); the old
    /// digits open each door until its lock confirms.
    Change(ChangeArgs),
    /// Deactivate a code (kept on the locks, refused at the keypad).
    Disable(IdArg),
    /// Reactivate a deactivated code.
    Enable(IdArg),
    /// Delete a code: it leaves every lock.
    Delete(IdArg),
    /// Forget a request the server refused.
    Dismiss(IdArg),
    /// Create a guest code (always generated): permanent, temporary,
    /// recurring or delivery.
    Guest(GuestArgs),
    /// Send queued requests and receipts, pull what changed.
    Sync,
    /// Sync, then scan for locks over Bluetooth and carry their sealed jobs.
    Deliver(DeliverArgs),
    /// Sync and deliver in a loop, printing every state change.
    Watch(WatchArgs),
}

/// `keyway login`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The API token (`kwa_…`); else `KEYWAY_TOKEN`, else read from stdin.
    pub(super) token: Option<String>,
    /// The name this computer gets at the server.
    #[arg(long, default_value = DEFAULT_DEVICE_NAME)]
    pub(super) device_name: String,
}

/// A code, by the id `keyway codes` shows.
#[derive(Debug, Args)]
pub(crate) struct IdArg {
    /// The code's id (`lc_…` for codes created here, else the server's).
    pub(super) id: String,
}

/// `keyway codes`.
#[derive(Debug, Args)]
pub(crate) struct CodesArgs {
    /// Show only this code.
    pub(super) id: Option<String>,
}

/// `keyway uses`.
#[derive(Debug, Args)]
pub(crate) struct UsesArgs {
    /// Show only this code's uses.
    #[arg(long)]
    pub(super) code: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(super) limit: u32,
}

/// `keyway notify`.
#[derive(Debug, Args)]
pub(crate) struct NotifyArgs {
    /// The code's id.
    pub(super) id: String,
    /// none, email, sms or both.
    pub(super) how: NotifyArg,
}

/// `keyway backup`.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The guest code's id.
    pub(super) id: String,
    /// The door, by id or name (default: the code's only door it has not
    /// reached).
    #[arg(long)]
    pub(super) lock: Option<String>,
}

/// `keyway contact`.
#[derive(Debug, Args)]
pub(crate) struct ContactArgs {
    /// Your email address ("" clears it).
    #[arg(long)]
    pub(super) email: Option<String>,
    /// Your phone number, like +15551234567 ("" clears it).
    #[arg(long)]
    pub(super) phone: Option<String>,
}

/// Being told by email or SMS when a code is used.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum NotifyArg {
    /// Only in the app (the default).
    None,
    /// Email, to the address the server keeps for you.
    Email,
    /// A text message.
    Sms,
    /// Both.
    Both,
}

impl From<NotifyArg> for keyway_api::NotifyOnUse {
    fn from(arg: NotifyArg) -> Self {
        match arg {
            NotifyArg::None => Self::None,
            NotifyArg::Email => Self::Email,
            NotifyArg::Sms => Self::Sms,
            NotifyArg::Both => Self::Both,
        }
    }
}

/// Where a new code goes and what it is called.
#[derive(Debug, Args)]
pub(crate) struct PlacementArgs {
    /// A name ("Front door", "Dog walker").
    #[arg(long)]
    pub(super) name: Option<String>,
    /// A door, by lock id or name (repeat); default: your unit's doors, plus
    /// the community doors for generated codes of your own.
    #[arg(long = "door", value_name = "LOCK")]
    pub(super) doors: Vec<String>,
    /// Be told each time the code opens a door, by email or SMS to the
    /// contact details your building keeps for you.
    #[arg(long, value_name = "HOW")]
    pub(super) notify_on_use: Option<NotifyArg>,
}

/// `keyway generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// 4, or 6 where the community allows it.
    #[arg(long, value_parser = clap::value_parser!(u8).range(4..=8))]
    pub(super) length: Option<u8>,
    #[command(flatten)]
    pub(super) placement: PlacementArgs,
}

/// `keyway pick`.
#[derive(Debug, Args)]
pub(crate) struct PickArgs {
    /// The digits (4, or 6 where the community allows it).
    pub(super) code: String,
    /// Check the code against every rule and stop (nothing is queued).
    #[arg(long)]
    pub(super) dry_run: bool,
    #[command(flatten)]
    pub(super) placement: PlacementArgs,
}

/// `keyway change`.
#[derive(Debug, Args)]
pub(crate) struct ChangeArgs {
    /// The code's id.
    pub(super) id: String,
    /// The new digits; generated by the server when left out.
    pub(super) code: Option<String>,
    /// The length to generate.
    #[arg(long, value_parser = clap::value_parser!(u8).range(4..=8), conflicts_with = "code")]
    pub(super) length: Option<u8>,
}

/// The kinds of guest code.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum GuestKind {
    /// No end.
    Permanent,
    /// From `--from` (default now) until `--until`.
    Temporary,
    /// On `--days` between `--start` and `--end`, in the property's time zone.
    Recurring,
    /// A short window (default: the next 24 hours).
    Delivery,
}

/// `keyway guest`.
#[derive(Debug, Args)]
pub(crate) struct GuestArgs {
    /// permanent, temporary, recurring or delivery.
    pub(super) kind: GuestKind,
    #[command(flatten)]
    pub(super) placement: PlacementArgs,
    /// Temporary and delivery codes: when the window opens (RFC 3339, a
    /// date and time in the property's time zone, or +DURATION like +2h).
    #[arg(long, value_name = "WHEN")]
    pub(super) from: Option<String>,
    /// Temporary and delivery codes: when the window closes.
    #[arg(long, value_name = "WHEN")]
    pub(super) until: Option<String>,
    /// Recurring codes: the weekdays (mon,wed,fri; workdays; weekend; every_day).
    #[arg(long, value_name = "DAYS")]
    pub(super) days: Option<String>,
    /// Recurring codes: the daily opening time (09:00).
    #[arg(long, value_name = "HH:MM")]
    pub(super) start: Option<String>,
    /// Recurring codes: the daily closing time (12:00; before --start runs overnight).
    #[arg(long, value_name = "HH:MM")]
    pub(super) end: Option<String>,
    /// Works offline (temporary, recurring and delivery codes): each door
    /// gets its own 8 digits it accepts with no visit, for whole hours
    /// covering the window (a recurring code's first occurrence; a delivery
    /// code's digits work once per door).
    #[arg(long)]
    pub(super) offline: bool,
}

/// How long a scan listens.
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// How long each scan listens for locks, in milliseconds.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub(super) scan_ms: u64,
}

/// `keyway deliver`.
#[derive(Debug, Args)]
pub(crate) struct DeliverArgs {
    #[command(flatten)]
    pub(super) scan: ScanArgs,
}

/// `keyway watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Seconds between rounds of sync and delivery.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(super) every: u64,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long = "for", value_name = "SECONDS")]
    pub(super) duration: Option<u64>,
    #[command(flatten)]
    pub(super) scan: ScanArgs,
}
