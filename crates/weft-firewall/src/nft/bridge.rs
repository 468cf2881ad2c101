//! Applying table `bridge weft` (built by `crate::bridge`): made whole
//! when its skeleton changes or it is found not as weft left it, and
//! otherwise changed by its pins alone — an attach or detach is one small
//! transaction of new and deleted set elements, sent by netlink from this
//! process (`crate::set_elements`, no `nft` run), whatever the table holds.
//!
//! What the firewall knows of the table ([`BridgeKnown`]) is its skeleton,
//! a listing of that skeleton taken when it was made, its pins, and the
//! ruleset generation at which all that was true. Two ways in:
//!
//! * [`Firewall::apply`] (network changes, start-up, the agent's drift
//!   pass) believes what it knows only while the generation has not moved;
//!   when it moved (anyone's transaction, in any table), the table is
//!   listed and compared with the known skeleton and pins, and made again
//!   whole if either differs. So a hand edit is repaired by the next apply.
//! * [`Firewall::apply_ports`] (an attach or detach) sends the pins'
//!   change without listing anything, even when the generation moved:
//!   adding an element is right whatever else happened, and deleting one
//!   the table no longer holds fails the transaction (`ENOENT`), which then
//!   falls back to the full apply. When the generation had moved, the table is left
//!   marked unverified (no generation), so the next apply lists it.

use std::sync::PoisonError;

use tracing::{debug, info, warn};

use super::{APPLY, Firewall};
use crate::bridge::{FAMILY, Pins, bridge_table, pins_change, read_listing};
use crate::error::FirewallError;
use crate::model::NetworkRules;

/// Table `bridge weft` as weft last made or saw it.
#[derive(Debug)]
pub(super) struct BridgeKnown {
    /// Its skeleton ([`crate::bridge::BridgeTable::skeleton_text`]).
    skeleton: String,
    /// The skeleton as nft listed it right after it was made (`""`: no
    /// table), which later listings are compared with.
    listing: String,
    /// Its pins.
    pins: Pins,
    /// The ruleset generation at which the table was known to be exactly
    /// this; `None` once a change of pins was sent on top of a generation
    /// someone else had moved (the next apply lists it).
    pub(super) generation: Option<u32>,
}

/// Whether a change of pins took, alone.
enum Sent {
    /// The transaction was the only one: the table is known at the
    /// generation after it.
    Alone,
    /// The kernel refused it (an element to delete was missing: the table
    /// is not what was known) or it could not be told apart from someone
    /// else's: the caller must look.
    Unsure,
}

impl Firewall {
    /// An attach or detach on a bridge network: makes the pins of table
    /// `bridge weft` (each workload port held to its MAC and address) what
    /// `networks` need, sending only the pins that changed — one netlink
    /// transaction whose size does not grow with the table, no `nft` run —
    /// and touching nothing
    /// else. A hand edit made meanwhile is found by the next
    /// [`Firewall::apply`] (the agent's drift pass calls it every few
    /// seconds), not here; when the table is not known yet, or its skeleton
    /// differs, or the change is refused, this is [`Firewall::apply`]'s
    /// bridge step: listed if need be, made again whole if need be. Table
    /// `inet weft` is not looked at: no workload port is in it.
    pub fn apply_ports(&self, networks: &[NetworkRules]) -> Result<crate::Applied, FirewallError> {
        let wanted = bridge_table(networks);
        {
            let mut last = self
                .bridge_known
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(known) = last
                .as_mut()
                .filter(|k| k.skeleton == wanted.skeleton_text())
            {
                let Some(change) = pins_change(&known.pins, &wanted.pins) else {
                    return Ok(crate::Applied::Unchanged);
                };
                let before = self.generation();
                if known.generation != before {
                    // Someone else's transaction since the table was known:
                    // whatever it did is for the next apply to find.
                    known.generation = None;
                }
                if let Sent::Alone = self.send_pins(known, &change, wanted.pins, before) {
                    return Ok(crate::Applied::Updated);
                }
            }
        }
        let (changed, _) = self.apply_bridge(networks)?;
        Ok(if changed {
            crate::Applied::Updated
        } else {
            crate::Applied::Unchanged
        })
    }

    /// Table `bridge weft` as `networks` need it: whether anything had to
    /// be sent, and the generation at which the table is known. While the
    /// ruleset generation has not moved since it was known, nothing is
    /// read; when it moved, the table is listed and compared (see the
    /// module's documentation). A known table of the same skeleton gets
    /// only its pins' change; anything else makes it again whole.
    pub(super) fn apply_bridge(
        &self,
        networks: &[NetworkRules],
    ) -> Result<(bool, Option<u32>), FirewallError> {
        let wanted = bridge_table(networks);
        let skeleton = wanted.skeleton_text();
        let mut last = self
            .bridge_known
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = self.generation();
        if let Some(known) = last.as_mut() {
            let intact = (now.is_some() && known.generation == now) || {
                let listed = read_listing(&self.list_table(FAMILY)?);
                let intact = listed
                    .is_some_and(|(listing, pins)| listing == known.listing && pins == known.pins);
                if intact {
                    known.generation = now;
                } else {
                    warn!("nftables table bridge weft was changed by someone else: restoring it");
                }
                intact
            };
            if intact && known.skeleton == skeleton {
                let Some(change) = pins_change(&known.pins, &wanted.pins) else {
                    return Ok((false, now));
                };
                if let Sent::Alone = self.send_pins(known, &change, wanted.pins.clone(), now) {
                    return Ok((true, known.generation));
                }
            }
        }
        *last = None;
        self.send_batch(&wanted.batch().to_string())?;
        let generation = self.generation();
        if matches!((now, generation), (Some(b), Some(a)) if a == b.wrapping_add(1)) {
            self.inet_still_known(now, generation);
        }
        // The skeleton as nft lists it, for later listings to be compared
        // with. Read once per table made whole: never on an attach.
        let (listing, pins) = if wanted.has_ports() {
            read_listing(&self.list_table(FAMILY)?).unwrap_or_default()
        } else {
            Default::default()
        };
        if pins != wanted.pins {
            return Err(FirewallError::Nft {
                action: APPLY,
                stderr: "nft reported success but table bridge weft does not read back as the \
                         batch sent"
                    .into(),
            });
        }
        info!(
            ports = wanted.pins.len(),
            "nftables table bridge weft made whole"
        );
        *last = Some(BridgeKnown {
            skeleton,
            listing,
            pins: wanted.pins,
            generation,
        });
        Ok((true, generation))
    }

    /// Sends a change of pins (`change`: the pins to delete and to add,
    /// from `known.pins` to `pins`) over netlink, with the generation
    /// `before` read just before. On success alone, `known` holds `pins`,
    /// and stays verified if it was.
    fn send_pins(
        &self,
        known: &mut BridgeKnown,
        (deleted, added): &(Pins, Pins),
        pins: Pins,
        before: Option<u32>,
    ) -> Sent {
        if let Err(e) = crate::set_elements::send(self.netns.as_deref(), deleted, added) {
            debug!(
                "the kernel refused the change of table bridge weft's pins ({e}): making it whole"
            );
            return Sent::Unsure;
        }
        let after = self.generation();
        let alone = matches!((before, after), (Some(b), Some(a)) if a == b.wrapping_add(1));
        debug!(ports = pins.len(), alone, "table bridge weft: pins changed");
        known.pins = pins;
        if !alone {
            // Our change took, but nothing says what else did: the caller
            // lists the table.
            known.generation = None;
            return Sent::Unsure;
        }
        if known.generation.is_some() && known.generation == before {
            known.generation = after;
        }
        self.inet_still_known(before, after);
        Sent::Alone
    }

    /// A transaction of ours alone, from `before` to `after`, changed only
    /// table `bridge weft`: table `inet weft`, if known at `before`, is
    /// still known at `after`.
    fn inet_still_known(&self, before: Option<u32>, after: Option<u32>) {
        if let (Some(before), Some(after)) = (before, after)
            && let Some(inet) = self
                .known
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
                .filter(|k| k.generation == before)
        {
            inet.generation = after;
        }
    }
}
