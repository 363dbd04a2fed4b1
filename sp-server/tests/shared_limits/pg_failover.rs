//! PostgreSQL failover under load: `sp` on PgBouncer in front of a primary with a synchronous
//! standby; the primary crashes mid-ingest, readiness turns 503, the standby is promoted and
//! PgBouncer pointed at it, and the same `sp` process — never restarted — is ready again with
//! every acknowledged document present.

use super::process::{create_key, sp, start};

/// A `scripts/pg-ha.sh` pair and its PgBouncer, removed when the value drops.
struct HaPostgres {
    name: &'static str,
    /// PgBouncer's URL: the one `sp` uses.
    url: String,
}

impl HaPostgres {
    fn up(name: &'static str) -> Self {
        let printed = sp_tests::script("pg-ha.sh", &["up", name, "sync"]);
        let url = printed
            .split_whitespace()
            .find_map(|word| word.strip_prefix("SP_HA_URL="))
            .unwrap_or_else(|| panic!("no SP_HA_URL in {printed}"))
            .to_owned();
        HaPostgres { name, url }
    }

    fn run(&self, command: &str) -> String {
        sp_tests::script("pg-ha.sh", &[command, self.name])
    }
}

impl Drop for HaPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(sp_tests::repo_root().join("scripts/pg-ha.sh"))
            .args(["down", self.name])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_dies_under_ingest_and_sp_recovers_on_the_promoted_standby() {
    let ha = HaPostgres::up("ingest");
    let dir = tempfile::tempdir().expect("tempdir");
    let on_ha = |mut cmd: std::process::Command| {
        cmd.env("DATABASE_URL", &ha.url)
            // A dead backend is given up on quickly, as a production pool would.
            .env("SP_DATABASE__ACQUIRE_TIMEOUT_SECS", "2");
        cmd
    };
    let token = create_key(
        &mut on_ha(sp(dir.path())),
        "ingest",
        "documents:read,documents:write",
        &[],
    );
    let (_server, addr, _log) = start(&mut on_ha(sp(dir.path())));
    let done = super::ingest::failover_under_ingest(
        &addr,
        &token,
        || {
            ha.run("crash");
        },
        || {
            ha.run("failover");
        },
    )
    .await;
    println!(
        "crash to ready again: {:?}; {} acknowledged ({} before the promotion), {} refused \
         (503) during the gap, none lost",
        done.outage, done.acknowledged, done.before_promotion, done.refused
    );
}
