//! The names of one network's DNS zone, fed by several sources.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hickory_server::proto::rr::{LowerName, Name, RecordType};

use crate::error::DnsError;

/// What a zone knows about a query name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneAnswer {
    /// The name is neither in the zone's domain nor a bare single label
    /// (nor an unknown bare label asked for other than addresses): someone
    /// else's to answer.
    Outside,
    /// The domain itself (`mesh.local.`): it exists, with no addresses.
    Apex,
    /// A known name and all its addresses (IPv4 and IPv6, sorted).
    Known(Vec<IpAddr>),
    /// In the domain, but no source has this name: NXDOMAIN.
    Unknown,
}

/// The names of one network's zone: `<label>.<domain>` for every workload
/// and host on the network, on every host.
///
/// Names come from *sources* — the local agent (its own workloads), each
/// peer agent, the mesh file, the control plane — each identified by a
/// string of its choosing (e.g. `"local"`, `"peer:h2"`, `"mesh"`,
/// `"control"`). A source only ever replaces or removes its own records, so
/// one source's update can never drop another's names. When two sources
/// give the same name, its addresses are the union of theirs (the usual
/// case is the same workload reported twice, with the same address) —
/// except that a name the zone's *authoritative* source gives (the local
/// agent's: this host and its workloads, see [`Zone::set_authoritative`])
/// is answered from that source alone, so another host reporting the same
/// name cannot make it ambiguous. Such a clash is logged when it appears.
///
/// Shared as `Arc<Zone>` between the servers and whatever feeds it; every
/// method takes `&self` and is cheap (no I/O, a short lock), so it can be
/// called from async code.
pub struct Zone {
    domain: LowerName,
    domain_text: String,
    /// (name, source) → addresses: keyed by name first so a lookup is one
    /// range scan over the sources that have it.
    records: RwLock<Records>,
    /// Bumped on every change; served as the SOA serial so a change is
    /// visible to anyone who looks.
    serial: AtomicU32,
    /// The other zones a client may see: a workload on several networks
    /// asks the responder of its first one, and must find the names of the
    /// others there too.
    links: RwLock<Option<ClientLinks>>,
    /// The source whose names win over every other source's.
    authoritative: RwLock<Option<String>>,
}

impl std::fmt::Debug for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zone")
            .field("domain", &self.domain_text)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// (name, source) → addresses.
type Records = BTreeMap<(String, String), Vec<IpAddr>>;

/// Every source's entry for `label`.
fn sources_of<'a>(
    map: &'a Records,
    label: &str,
) -> impl Iterator<Item = (&'a (String, String), &'a Vec<IpAddr>)> {
    let label = label.to_owned();
    map.range((label.clone(), String::new())..)
        .take_while(move |((l, _), _)| *l == label)
}

/// The addresses `label` is answered with: the `authority` source's alone
/// when it has the name, else every source's; `None` when no source has it.
fn answered(map: &Records, label: &str, authority: &str) -> Option<Vec<IpAddr>> {
    if let Some(own) = map.get(&(label.to_owned(), authority.to_owned())) {
        return Some(own.clone());
    }
    let addrs: Vec<IpAddr> = sources_of(map, label)
        .flat_map(|(_, addrs)| addrs.iter().copied())
        .collect();
    (!addrs.is_empty()).then(|| normalize_addrs(addrs))
}

/// For a client address, the zones of the other networks it is on.
pub type ClientLinks = Arc<dyn Fn(IpAddr) -> Vec<Arc<Zone>> + Send + Sync>;

impl Zone {
    /// An empty zone for `domain` (e.g. `mesh.local`; a trailing dot is
    /// allowed, case does not matter).
    pub fn new(domain: &str) -> Result<Arc<Zone>, DnsError> {
        let trimmed = domain.trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(DnsError::invalid_name(
                "zone domain",
                domain,
                "must not be empty (the root is not a weft domain)",
            ));
        }
        let mut name = Name::from_ascii(trimmed)
            .map_err(|e| DnsError::invalid_name("zone domain", domain, e.to_string()))?;
        name.set_fqdn(true);
        let name = name.to_lowercase();
        for label in name.iter() {
            if !label.iter().all(|&b| is_label_byte(b)) {
                return Err(DnsError::invalid_name(
                    "zone domain",
                    domain,
                    "use letters, digits, '-' and '_' in each label",
                ));
            }
        }
        let domain_text = trimmed.to_ascii_lowercase();
        Ok(Arc::new(Zone {
            domain: LowerName::new(&name),
            domain_text,
            records: RwLock::new(BTreeMap::new()),
            serial: AtomicU32::new(1),
            links: RwLock::new(None),
            authoritative: RwLock::new(None),
        }))
    }

    /// The domain, lowercase, without the trailing dot (`mesh.local`).
    pub fn domain(&self) -> &str {
        &self.domain_text
    }

    /// Names `source` gives are answered from it alone, whatever other
    /// sources say about them.
    pub fn set_authoritative(&self, source: &str) {
        *self
            .authoritative
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(source.to_owned());
    }

    /// Replaces every record of `source` with `records` (label → addresses;
    /// an empty list of addresses removes that name). Labels are single DNS
    /// labels (`web-1`, not `web-1.mesh.local`); checked before anything
    /// changes, so an error leaves the zone as it was.
    pub fn set_source(
        &self,
        source: &str,
        records: BTreeMap<String, Vec<IpAddr>>,
    ) -> Result<(), DnsError> {
        let mut checked = Vec::with_capacity(records.len());
        for (label, addrs) in records {
            let label = normalize_label(&label)?;
            if !addrs.is_empty() {
                checked.push((label, normalize_addrs(addrs)));
            }
        }
        let mut map = self.write();
        let mut touched: Vec<String> = map
            .keys()
            .filter(|(_, s)| s == source)
            .map(|(l, _)| l.clone())
            .collect();
        touched.extend(checked.iter().map(|(l, _)| l.clone()));
        let before = self.clashes(&map, &touched);
        map.retain(|(_, s), _| s != source);
        for (label, addrs) in checked {
            map.insert((label, source.to_owned()), addrs);
        }
        self.log_new_clashes(&map, &touched, &before);
        drop(map);
        self.bump();
        Ok(())
    }

    /// Sets the addresses of one name from `source` (replacing what that
    /// source said before; an empty list removes it).
    pub fn upsert(&self, source: &str, name: &str, addrs: Vec<IpAddr>) -> Result<(), DnsError> {
        let label = normalize_label(name)?;
        let touched = [label.clone()];
        let key = (label, source.to_owned());
        let mut map = self.write();
        let before = self.clashes(&map, &touched);
        if addrs.is_empty() {
            map.remove(&key);
        } else {
            map.insert(key, normalize_addrs(addrs));
        }
        self.log_new_clashes(&map, &touched, &before);
        drop(map);
        self.bump();
        Ok(())
    }

    /// Removes one name given by `source`; other sources' records of the same
    /// name stay. Unknown names are ignored.
    pub fn remove(&self, source: &str, name: &str) {
        let Ok(label) = normalize_label(name) else {
            return;
        };
        if self.write().remove(&(label, source.to_owned())).is_some() {
            self.bump();
        }
    }

    /// Removes everything `source` gave (a peer that left the network).
    pub fn remove_source(&self, source: &str) {
        self.write().retain(|(_, s), _| s != source);
        self.bump();
    }

    /// The addresses of `name` — a label (`web-1`) or a name in the domain
    /// (`web-1.mesh.local`, with or without the final dot), any case — from
    /// all sources, sorted and without duplicates. `None` for a name no
    /// source has, or one outside the domain.
    pub fn lookup(&self, name: &str) -> Option<Vec<IpAddr>> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let label = match name.strip_suffix(&self.domain_text) {
            Some(rest) => rest.strip_suffix('.')?,
            None => name.as_str(),
        };
        if label.contains('.') {
            return None;
        }
        self.addresses_of(label)
    }

    /// The addresses `source` gives `label` (any case), if it gives any.
    pub fn source_addresses(&self, source: &str, label: &str) -> Option<Vec<IpAddr>> {
        let key = (label.to_ascii_lowercase(), source.to_owned());
        self.read().get(&key).cloned()
    }

    /// Every name in the zone with its addresses (as they are answered),
    /// for status output.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<IpAddr>> {
        let authority = self.authority();
        let map = self.read();
        let mut labels: Vec<&String> = map.keys().map(|(l, _)| l).collect();
        labels.dedup();
        labels
            .into_iter()
            .filter_map(|label| Some((label.clone(), answered(&map, label, &authority)?)))
            .collect()
    }

    /// Let clients also find names of the other zones `links` gives them.
    pub fn link_clients(&self, links: ClientLinks) {
        *self.links.write().unwrap_or_else(PoisonError::into_inner) = Some(links);
    }

    /// [`Zone::answer`] for a client: a name unknown here is looked up in
    /// the zones of the client's other networks (same domain only).
    pub fn answer_for(&self, client: IpAddr, qname: &LowerName, qtype: RecordType) -> ZoneAnswer {
        let mut found = self.lookup_name(qname);
        if found == ZoneAnswer::Unknown {
            let links = self
                .links
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for zone in links.map(|f| f(client)).unwrap_or_default() {
                if zone.domain == self.domain
                    && let known @ ZoneAnswer::Known(_) = zone.lookup_name(qname)
                {
                    found = known;
                    break;
                }
            }
        }
        self.unknown_bare_label_rule(qname, qtype, found)
    }

    /// What the zone says about a query for `qname` of type `qtype`, as the
    /// server asks it.
    ///
    /// A bare single label (`web.`) is a name of the zone too, answered like
    /// `web.<domain>`: it is what `nslookup web GATEWAY` asks, and what a
    /// stub resolver asks last when its search list found nothing. An
    /// *address* query (A, AAAA, ANY) for a bare label the zone does not
    /// have is never someone else's to answer either (upstream has no
    /// `web.` but would learn the name, like dnsmasq's `domain-needed`), so
    /// it is [`ZoneAnswer::Unknown`] (NXDOMAIN), which sends a resolver on
    /// to its next search domain. Other types for such a label (DS, NS, SOA
    /// of a TLD, as a validating resolver asks) are [`ZoneAnswer::Outside`].
    pub fn answer(&self, qname: &LowerName, qtype: RecordType) -> ZoneAnswer {
        self.unknown_bare_label_rule(qname, qtype, self.lookup_name(qname))
    }

    /// The zone's answer for the name alone (an unknown bare label is
    /// [`ZoneAnswer::Unknown`] here).
    fn lookup_name(&self, qname: &LowerName) -> ZoneAnswer {
        if !self.domain.zone_of(qname) {
            if qname.num_labels() == 1 {
                return self.answer_label(qname);
            }
            return ZoneAnswer::Outside;
        }
        let depth = qname.num_labels().saturating_sub(self.domain.num_labels());
        if depth == 0 {
            return ZoneAnswer::Apex;
        }
        if depth > 1 {
            // No name of ours has more than one label below the domain, and
            // there are no wildcards: nothing exists down there.
            return ZoneAnswer::Unknown;
        }
        self.answer_label(qname)
    }

    /// An unknown bare label is ours only for address queries.
    fn unknown_bare_label_rule(
        &self,
        qname: &LowerName,
        qtype: RecordType,
        found: ZoneAnswer,
    ) -> ZoneAnswer {
        let bare = qname.num_labels() == 1 && !self.domain.zone_of(qname);
        let address_query = matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY);
        if found == ZoneAnswer::Unknown && bare && !address_query {
            ZoneAnswer::Outside
        } else {
            found
        }
    }

    /// What the zone has for the first label of `qname`.
    fn answer_label(&self, qname: &LowerName) -> ZoneAnswer {
        let Some(first) = qname.iter().next() else {
            return ZoneAnswer::Unknown;
        };
        let Ok(label) = std::str::from_utf8(first) else {
            return ZoneAnswer::Unknown;
        };
        match self.addresses_of(&label.to_ascii_lowercase()) {
            Some(addrs) => ZoneAnswer::Known(addrs),
            None => ZoneAnswer::Unknown,
        }
    }

    /// The SOA serial: changes whenever the zone does.
    pub fn serial(&self) -> u32 {
        self.serial.load(Ordering::Relaxed)
    }

    pub(crate) fn apex(&self) -> &LowerName {
        &self.domain
    }

    fn addresses_of(&self, label: &str) -> Option<Vec<IpAddr>> {
        answered(&self.read(), label, &self.authority())
    }

    /// The authoritative source; `""` (which no source is) when none was
    /// set.
    fn authority(&self) -> String {
        self.authoritative
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default()
    }

    /// Of `labels`, those the authoritative source gives and another source
    /// gives other addresses for: answered from the authoritative source
    /// only, which someone should hear about.
    fn clashes(&self, map: &Records, labels: &[String]) -> Vec<(String, String)> {
        let authority = self.authority();
        if authority.is_empty() {
            return Vec::new();
        }
        let mut clashes = Vec::new();
        for label in labels {
            let Some(own) = map.get(&(label.clone(), authority.clone())) else {
                continue;
            };
            for ((_, source), addrs) in sources_of(map, label) {
                if *source != authority && addrs != own {
                    clashes.push((label.clone(), source.clone()));
                }
            }
        }
        clashes.sort();
        clashes.dedup();
        clashes
    }

    fn log_new_clashes(&self, map: &Records, labels: &[String], before: &[(String, String)]) {
        for (label, source) in self.clashes(map, labels) {
            if !before.contains(&(label.clone(), source.clone())) {
                tracing::warn!(
                    zone = %self.domain_text,
                    name = %label,
                    %source,
                    "a name of this host is also given by another source with other addresses; \
                     answering with this host's"
                );
            }
        }
    }

    fn bump(&self) {
        self.serial.fetch_add(1, Ordering::Relaxed);
    }

    // A panic while holding the lock cannot leave the map half-changed (every
    // change is one map operation after validation), so a poisoned lock is
    // still good to use.
    fn read(&self) -> RwLockReadGuard<'_, Records> {
        self.records.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Records> {
        self.records.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A record name as stored: one label, 1–63 letters, digits, '-' or '_',
/// lowercase.
fn normalize_label(name: &str) -> Result<String, DnsError> {
    let bad = |why: &str| DnsError::invalid_name("record name", name, why);
    if name.is_empty() {
        return Err(bad("must not be empty"));
    }
    if name.len() > 63 {
        return Err(bad("longer than 63 characters (one DNS label)"));
    }
    if name.contains('.') {
        return Err(bad("must be a single label, without the domain"));
    }
    if !name.bytes().all(is_label_byte) {
        return Err(bad("use letters, digits, '-' and '_'"));
    }
    Ok(name.to_ascii_lowercase())
}

fn normalize_addrs(mut addrs: Vec<IpAddr>) -> Vec<IpAddr> {
    addrs.sort();
    addrs.dedup();
    addrs
}

#[cfg(test)]
mod tests;
