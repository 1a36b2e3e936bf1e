//! The one record only the FFI needs: the options an app passes for a new
//! resident code (the core takes a fuller `NewCode`, built from these). Every
//! other record and enum apps see is the core's own, derived where it is
//! defined.

/// Where a new resident code goes and how long it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct CodeOptions {
    /// A name ("Front door").
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// The doors (lock ids); `None`: the unit's doors, plus the community
    /// doors for generated codes.
    #[uniffi(default = None)]
    pub lock_ids: Option<Vec<String>>,
    /// The length to generate (4, or 6 where allowed).
    #[uniffi(default = None)]
    pub length: Option<u8>,
    /// Be told by email or SMS each time the code opens a door (at the
    /// contact details the server keeps for the user); `None`: only in the
    /// app (`KeywayEvent.CodeUsed`).
    #[uniffi(default = None)]
    pub notify_on_use: Option<keyway_api::NotifyOnUse>,
}
