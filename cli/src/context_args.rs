//! The command-line options that describe a policy context, shared by every
//! command that checks or generates codes.

use clap::Args;
use keyway_codes::code::{AccessPoint, Code, CodeKind};
use keyway_codes::policy::{
    CheckContext, CommonPins, Community, ModelConstraint, PropertyNumber, TargetLock,
};

/// Where a code is meant to go and under which community settings.
#[derive(Debug, Clone, Args)]
pub(crate) struct ContextArgs {
    /// What the code is for: resident, guest, carrier, courier, staff, one-time.
    #[arg(long, default_value = "resident")]
    kind: CodeKind,
    /// The number of digits asked for (default: the kind's usual length).
    #[arg(long, value_name = "N")]
    length: Option<usize>,
    /// The community allows 6-digit resident and guest codes.
    #[arg(long)]
    six_digit: bool,
    /// The community has custom (picked) resident codes turned off.
    #[arg(long)]
    no_custom: bool,
    /// A number affiliated with the property: street number, zip code, unit.
    #[arg(long = "property-number", value_name = "N")]
    property_numbers: Vec<PropertyNumber>,
    /// A code already on the target lock.
    #[arg(long = "existing", value_name = "CODE")]
    existing: Vec<Code>,
    /// The lock's keypad has no enter key (codes open as soon as typed).
    #[arg(long)]
    no_enter_key: bool,
    /// A lock-model constraint, such as no_zeros or unique_first_four_digits.
    #[arg(long = "constraint", value_name = "ID")]
    constraints: Vec<ModelConstraint>,
    /// The door the lock guards: unit-door, community-entrance, amenity,
    /// package-room (default: package-room for carrier, courier, staff and
    /// one-time codes, unit-door otherwise).
    #[arg(long, value_name = "ACCESS_POINT")]
    door: Option<AccessPoint>,
    /// A courier or staff PIN deleted at this property.
    #[arg(long = "deleted-pin", value_name = "CODE")]
    deleted_pins: Vec<Code>,
    /// A further PIN the community refuses as too common.
    #[arg(long = "common-pin", value_name = "CODE")]
    common_pins: Vec<Code>,
    /// Do not apply the built-in common-PIN blocklist.
    #[arg(long)]
    no_common_pin_list: bool,
    /// The length of one-time PINs in this community.
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u8).range(4..=8))]
    one_time_length: u8,
}

impl ContextArgs {
    /// The policy context these options describe.
    pub(crate) fn context(&self) -> CheckContext {
        let community = Community {
            six_digit_codes: self.six_digit,
            custom_codes: !self.no_custom,
            affiliated_numbers: self.property_numbers.clone(),
            one_time_pin_length: self.one_time_length,
            common_pins: CommonPins {
                builtin: !self.no_common_pin_list,
                extra: self.common_pins.iter().copied().collect(),
            },
        };
        let door = self.door.unwrap_or(match self.kind {
            CodeKind::Resident | CodeKind::Guest => AccessPoint::UnitDoor,
            _ => AccessPoint::PackageRoom,
        });
        let lock = TargetLock {
            access_point: door,
            enter_key: !self.no_enter_key,
            constraints: self.constraints.clone(),
            codes: self.existing.clone(),
        };
        let mut ctx = CheckContext::new(community, self.kind)
            .with_lock(lock)
            .with_deleted_pins(self.deleted_pins.iter().copied());
        ctx.length = self.length;
        ctx
    }
}
