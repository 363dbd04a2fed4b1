//! [`OwnRedisCluster`]: a Redis Cluster of one test's own (three masters, each with a replica),
//! for tests that kill its nodes.

use std::process::Command;

/// A `scripts/services.sh redis-cluster` instance, destroyed when the value drops.
pub struct OwnRedisCluster {
    name: &'static str,
    /// Every node, `127.0.0.1:PORT`.
    pub nodes: Vec<String>,
}

impl OwnRedisCluster {
    /// Starts the cluster `name` (unique per test) and waits until every replica is attached.
    pub fn start(name: &'static str) -> Self {
        let nodes = crate::script("services.sh", &["redis-cluster", "start", name])
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        OwnRedisCluster { name, nodes }
    }

    /// `redis-cli -p PORT args…` against the node `node` (`host:port`); its output.
    pub fn cli(node: &str, args: &[&str]) -> String {
        let port = node.rsplit(':').next().unwrap_or_default();
        let output = Command::new("redis-cli")
            .args(["-p", port])
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("redis-cli: {err}"));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The node serving `key`'s slot as master now; `None` while no live master does (between
    /// a master's death and its replica's promotion).
    pub fn master_of(&self, key: &str) -> Option<String> {
        let live = self.live_node();
        let slot: u16 = Self::cli(live, &["cluster", "keyslot", key])
            .parse()
            .unwrap_or_else(|err| panic!("keyslot of {key}: {err}"));
        let slots = Self::cli(live, &["cluster", "nodes"]);
        for line in slots.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (low, high) = range.split_once('-').unwrap_or((range, range));
                matches!((low.parse::<u16>(), high.parse::<u16>()), (Ok(l), Ok(h)) if (l..=h).contains(&slot))
            });
            if serves {
                return Some(fields[1].split('@').next().unwrap_or_default().to_owned());
            }
        }
        None
    }

    fn live_node(&self) -> &str {
        self.nodes
            .iter()
            .find(|node| Self::cli(node, &["ping"]) == "PONG")
            .expect("a live node")
    }

    /// The masters now (`host:port`), as the first live node sees them.
    pub fn masters(&self) -> Vec<String> {
        Self::cli(self.live_node(), &["cluster", "nodes"])
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .filter_map(|line| line.split_whitespace().nth(1))
            .map(|addr| addr.split('@').next().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for OwnRedisCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(crate::repo_root().join("scripts/services.sh"))
            .args(["redis-cluster", "destroy", self.name])
            .output();
    }
}
