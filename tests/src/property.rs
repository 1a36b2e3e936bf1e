//! The property every world holds, Maple Court, set up with the operator's
//! typed admin functions (`keyway_server::admin`, the ones the `admin`
//! command calls) on the world's database.
//!
//! Maple Court (America/New_York; 1440 and 94110 are affiliated numbers)
//! has unit 4B with its door, a community entrance and the package room;
//! residents Alice (4B) and Bob (5C, no door of his own), staff member Sam
//! and manager Mia, each with an API token. A [`Plan`] adds what some
//! suites need besides: a door for 5C, a second property (Oak Tower, with
//! its manager Zed and resident Yan of 1A), and a Portal sign-in for Mia.

use std::collections::BTreeMap;
use std::path::Path;

use keyway_api::{PolicySettings, Role};
use keyway_codes::AccessPoint;
use keyway_server::admin::{self, LockSpec, PropertySpec, UserSpec};
use keyway_server::db::Store;

use crate::error::KitResult;

/// The property's name.
pub const NAME: &str = "Maple Court";
/// Its time zone.
pub const TIME_ZONE: &str = "America/New_York";
/// Its affiliated numbers (street number, zip code).
pub const AFFILIATED: [&str; 2] = ["1440", "94110"];
/// The manager's Portal sign-in address (with [`Plan::manager_sign_in`]).
pub const MANAGER_EMAIL: &str = "mia@maple-court.example";

/// What to set up besides the common Maple Court.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The provisioning file of Maple Court's locks, in the world's directory.
    pub provisioning: String,
    /// A door for unit 5C (lock `unit_5c`).
    pub unit_5c_door: bool,
    /// A second property, Oak Tower: lock `oak_1a`, users `zed` (manager)
    /// and `yan` (resident of 1A); its provisioning file is `oak.json`.
    pub other_property: bool,
    /// A Portal password for Mia (address [`MANAGER_EMAIL`]).
    pub manager_sign_in: bool,
}

impl Plan {
    /// The world of the story: the demo, the end-to-end scenarios and the
    /// binding tests' fixture.
    pub fn story() -> Self {
        Self {
            provisioning: "provisioning.json".to_owned(),
            unit_5c_door: false,
            other_property: false,
            manager_sign_in: false,
        }
    }

    /// The server's suites: a door for 5C and a second property to check
    /// that nothing crosses between properties.
    pub fn server_tests() -> Self {
        Self {
            provisioning: "maple.json".to_owned(),
            unit_5c_door: true,
            other_property: true,
            manager_sign_in: false,
        }
    }
}

/// A Portal sign-in.
#[derive(Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The address.
    pub email: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// The ids and secrets of a set-up property.
#[derive(Debug, Clone)]
pub struct Property {
    /// Maple Court's id.
    pub property_id: String,
    /// Unit ids by name (`4B`, `5C`, and `1A` of Oak Tower).
    pub units: BTreeMap<String, String>,
    /// Lock ids: `unit_4b`, `entrance`, `package_room` (and `unit_5c`,
    /// `oak_1a` when planned).
    pub locks: BTreeMap<String, String>,
    /// API tokens by user key: `alice`, `bob`, `sam`, `mia` (and `zed`, `yan`).
    pub tokens: BTreeMap<String, String>,
    /// User ids by the same keys.
    pub users: BTreeMap<String, String>,
    /// Oak Tower's id, when planned.
    pub other_property: Option<String>,
    /// Mia's Portal sign-in, when planned.
    pub manager: Option<SignIn>,
}

/// One user to create: key, display name, role, unit.
type UserRow = (&'static str, &'static str, Role, Option<&'static str>);

/// Maple Court's users.
const MAPLE_USERS: [UserRow; 4] = [
    ("alice", "Alice", Role::Resident, Some("4B")),
    ("bob", "Bob", Role::Resident, Some("5C")),
    ("sam", "Sam", Role::Staff, None),
    ("mia", "Mia", Role::Manager, None),
];

/// Oak Tower's users.
const OAK_USERS: [UserRow; 2] = [
    ("zed", "Zed", Role::Manager, None),
    ("yan", "Yan", Role::Resident, Some("1A")),
];

/// A property with the default policy (4-digit codes, custom codes
/// allowed, 6-digit one-time PINs, the built-in common PINs).
pub fn property_spec(name: &str, time_zone: &str, affiliated: &[&str]) -> PropertySpec {
    PropertySpec {
        name: name.to_owned(),
        time_zone: time_zone.to_owned(),
        policy: PolicySettings {
            six_digit_codes: false,
            custom_codes: true,
            affiliated_numbers: affiliated.iter().map(|a| (*a).to_owned()).collect(),
            one_time_pin_length: 6,
            common_pins_builtin: true,
        },
    }
}

/// Creates a lock and writes its property's provisioning file again.
async fn lock(
    store: &Store,
    property: &str,
    spec: &LockSpec,
    provisioning: &Path,
) -> KitResult<admin::LockCreated> {
    let created = admin::create_lock(store, property, spec).await?;
    admin::write_provisioning(store, property, provisioning).await?;
    Ok(created)
}

/// Creates users; fills `property`'s tokens, users and units.
async fn users(
    store: &Store,
    property_id: &str,
    rows: &[UserRow],
    property: &mut Property,
) -> KitResult<()> {
    for &(key, name, role, unit) in rows {
        let spec = UserSpec {
            name: name.to_owned(),
            role,
            unit: unit.map(str::to_owned),
            email: None,
        };
        let created = admin::create_user(store, property_id, &spec).await?;
        property.tokens.insert(key.to_owned(), created.token);
        property.users.insert(key.to_owned(), created.user_id);
        if let (Some(unit), Some(id)) = (unit, created.unit_id) {
            property.units.insert(unit.to_owned(), id);
        }
    }
    Ok(())
}

/// Sets up Maple Court (and what `plan` adds) on `store`; provisioning
/// files go to `dir`.
pub async fn set_up(store: &Store, dir: &Path, plan: &Plan) -> KitResult<Property> {
    let spec = property_spec(NAME, TIME_ZONE, &AFFILIATED);
    let property_id = admin::create_property(store, &spec).await?.property_id;
    let file = dir.join(&plan.provisioning);
    let mut property = Property {
        property_id: property_id.clone(),
        units: BTreeMap::new(),
        locks: BTreeMap::new(),
        tokens: BTreeMap::new(),
        users: BTreeMap::new(),
        other_property: None,
        manager: None,
    };
    let mut doors = vec![
        (
            "unit_4b",
            LockSpec::new("Unit 4B", AccessPoint::UnitDoor, Some("4B")),
        ),
        (
            "entrance",
            LockSpec::new("Main entrance", AccessPoint::CommunityEntrance, None),
        ),
        (
            "package_room",
            LockSpec::new("Package room", AccessPoint::PackageRoom, None),
        ),
    ];
    if plan.unit_5c_door {
        doors.insert(
            1,
            (
                "unit_5c",
                LockSpec::new("Unit 5C", AccessPoint::UnitDoor, Some("5C")),
            ),
        );
    }
    for (key, spec) in &doors {
        let created = lock(store, &property_id, spec, &file).await?;
        if let (Some(unit), Some(id)) = (&spec.unit, created.unit_id) {
            property.units.insert(unit.clone(), id);
        }
        property.locks.insert((*key).to_owned(), created.lock_id);
    }
    users(store, &property_id, &MAPLE_USERS, &mut property).await?;
    if plan.other_property {
        let oak = property_spec("Oak Tower", "UTC", &[]);
        let oak_id = admin::create_property(store, &oak).await?.property_id;
        let spec = LockSpec::new("Oak 1A", AccessPoint::UnitDoor, Some("1A"));
        let created = lock(store, &oak_id, &spec, &dir.join("oak.json")).await?;
        property.locks.insert("oak_1a".to_owned(), created.lock_id);
        users(store, &oak_id, &OAK_USERS, &mut property).await?;
        property.other_property = Some(oak_id);
    }
    if plan.manager_sign_in {
        property.manager = Some(manager_sign_in(store, &property.users["mia"]).await?);
    }
    Ok(property)
}

/// Gives the manager a Portal address and a fresh password.
async fn manager_sign_in(store: &Store, user_id: &str) -> KitResult<SignIn> {
    let sign_in = SignIn {
        email: MANAGER_EMAIL.to_owned(),
        password: fresh_password(),
    };
    admin::set_password(store, user_id, Some(&sign_in.email), &sign_in.password).await?;
    Ok(sign_in)
}

/// A password of four groups of five letters and digits (about 100 bits).
fn fresh_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::fresh_password;

    #[test]
    fn a_fresh_password_meets_the_portal_rules() {
        let password = fresh_password();
        assert_eq!(password.len(), 23);
        assert!(keyway_server::passwords::check_new(&password).is_ok());
        assert_ne!(password, fresh_password());
    }
}
