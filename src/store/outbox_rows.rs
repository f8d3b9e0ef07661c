//! Which outbox rows an item's alerts make, the same for every backend: the alerts of
//! watches that have not yet alerted for the item's story (or the item), merged into one row
//! per notifier that lists every such watch.

use crate::dedupe::short_hash;
use crate::model::Alert;
use crate::store::NewAlert;

/// The distinct watches of an item's alerts, in order: the backend asks which have alerted.
pub(super) fn watches(alerts: &[NewAlert]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for a in alerts {
        if !out.contains(&a.alert.watch.as_str()) {
            out.push(&a.alert.watch);
        }
    }
    out
}

/// One row per notifier from the alerts whose watch is not in `alerted`; with how many
/// watches were left out. A row of one alert keeps the alert's id; a merged row's id is a
/// hash of its parts.
pub(super) fn plan<'a>(alerts: &'a [NewAlert], alerted: &[&str]) -> (Vec<(&'a str, Alert)>, usize) {
    let mut by_notifier: Vec<(&str, Vec<&Alert>)> = Vec::new();
    for a in alerts
        .iter()
        .filter(|a| !alerted.contains(&a.alert.watch.as_str()))
    {
        match by_notifier.iter_mut().find(|(n, _)| *n == a.notifier) {
            Some((_, parts)) => parts.push(&a.alert),
            None => by_notifier.push((&a.notifier, vec![&a.alert])),
        }
    }
    let rows = by_notifier
        .into_iter()
        .map(|(notifier, parts)| {
            let id = match parts.as_slice() {
                [one] => one.id.clone(),
                _ => short_hash(&parts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>()),
            };
            (notifier, Alert::merge(&parts, id))
        })
        .collect();
    let repeats = watches(alerts)
        .iter()
        .filter(|w| alerted.contains(w))
        .count();
    (rows, repeats)
}
