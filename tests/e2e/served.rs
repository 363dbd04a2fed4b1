//! `sp` serving the test model on a free port, with a key of the given scopes: what the
//! tests that drive it with clients nobody here wrote start from.

use sp_core::Config;

const ADMIN: &str = "e2e-admin-key-0123456789abcdef";

/// A running server and a key for it; stopped by [`Served::stop`].
pub struct Served {
    /// `host:port`.
    pub addr: String,
    /// A key with the scopes asked for.
    pub token: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
    window: u32,
}

impl Served {
    /// Serves `SP_TEST_MODEL` (2 slots of `window` tokens) on the embedded default.
    pub async fn start(scopes: &[&str], window: u32) -> Served {
        let dir = tempfile::tempdir().expect("tempdir");
        let (addr, stop, server) = Self::serve(&dir, window).await;
        let auth = format!("Bearer {ADMIN}");
        let body = serde_json::json!({"name": "client", "scopes": scopes}).to_string();
        let created = sp_tests::http(
            &addr,
            "POST",
            "/v1/keys",
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
        )
        .await
        .expect("create key");
        assert_eq!(created.status, 201, "{}", created.body);
        let token = created.json()["token"].as_str().expect("token").to_owned();
        Served {
            addr,
            token,
            stop,
            server,
            _dir: dir,
            window,
        }
    }

    /// Stops the server and starts a new one on the same data (a new port, the same key).
    pub async fn restart(self) -> Served {
        let _ = self.stop.send(());
        self.server.await.expect("join").expect("serve");
        let (addr, stop, server) = Self::serve(&self._dir, self.window).await;
        Served {
            addr,
            stop,
            server,
            ..self
        }
    }

    async fn serve(
        dir: &tempfile::TempDir,
        window: u32,
    ) -> (
        String,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ) {
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.auth.admin_key = Some(ADMIN.into());
        config.model.path = Some(sp_tests::service_url("SP_TEST_MODEL").into());
        config.model.slots = 2;
        config.model.context_per_slot = window;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let state = sp_server::AppState::open(config).await.expect("state");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(sp_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        (addr, stop, server)
    }

    /// The id the served model goes by (`/v1/models`).
    pub async fn model_id(&self) -> String {
        let auth = format!("Bearer {}", self.token);
        let models = sp_tests::http(
            &self.addr,
            "GET",
            "/v1/models",
            &[("authorization", auth.as_str())],
            b"",
        )
        .await
        .expect("models");
        assert_eq!(models.status, 200, "{}", models.body);
        models.json()["data"][0]["id"]
            .as_str()
            .expect("model id")
            .to_owned()
    }

    /// Runs the Python script `tests/python/<script>` with `args`; its stdout, as JSON.
    pub async fn python(&self, script: &str, args: &[&str]) -> serde_json::Value {
        let python = sp_tests::service_url("SP_TEST_PYTHON");
        let script = sp_tests::repo_root().join("tests/python").join(script);
        let output = tokio::process::Command::new(&python)
            .arg(&script)
            .args(args)
            .output()
            .await
            .expect("run python");
        assert!(
            output.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the script prints JSON")
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.expect("join").expect("serve");
    }
}
