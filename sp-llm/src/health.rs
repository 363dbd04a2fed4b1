//! The engine's readiness check.

use async_trait::async_trait;
use sp_core::health::HealthCheck;
use sp_core::{Error, Result};

use crate::engine::Engine;

#[async_trait]
impl HealthCheck for Engine {
    fn name(&self) -> &str {
        "model"
    }

    async fn check(&self) -> Result<()> {
        if self.worker_alive() {
            Ok(())
        } else {
            Err(Error::unavailable(
                "model",
                format!("the inference worker of {} has stopped", self.info().id),
            ))
        }
    }
}
