//! [`OwnPostgres`]: a PostgreSQL instance of one test's own, for tests that stop, restart or
//! replace a server (doing that to the shared one would break the tests running beside them).

/// A `scripts/services.sh pg` instance, destroyed when the value drops, even on failure.
pub struct OwnPostgres {
    /// The instance's name (`[a-z0-9_-]+`, unique per test).
    pub name: &'static str,
}

impl OwnPostgres {
    /// Starts (initialising if new) the instance `name`; returns it and its URL.
    pub fn start(name: &'static str) -> (Self, String) {
        let url = crate::script("services.sh", &["pg", "start", name]);
        (OwnPostgres { name }, url)
    }

    /// Takes charge of an instance some other script made (e.g. `pg-pitr.sh restore`).
    pub fn adopt(name: &'static str) -> Self {
        OwnPostgres { name }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(crate::repo_root().join("scripts/services.sh"))
            .args(["pg", "destroy", self.name])
            .output();
    }
}
