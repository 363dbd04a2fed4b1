//! Throttling of refused credentials per client address (review finding L2): each request
//! that presents a credential takes one unit of its address's `auth.failed_credential_limit`
//! before the credential is checked, and gives it back when the credential is accepted. So
//! only refusals spend the budget, and once it is spent the address is answered `429` with
//! `Retry-After` — whatever it presents — until it refills: a guesser gets
//! `failed_credential_limit` tries per period, and a right guess then is not even looked at.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use sp_core::auth::Quota;

use crate::error::ApiError;
use crate::state::AppState;

/// The peer address of a request served with connect info (`sp serve`, and a router served
/// through [`serve_router`](crate::serve_router)); none for a router called in process.
pub(crate) fn client_address(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// One request's unit of its address's refusal budget.
pub(super) struct Attempt<'a> {
    state: &'a AppState,
    bucket: String,
    quota: Quota,
}

impl<'a> Attempt<'a> {
    /// Takes the unit of the request's `client` address, or refuses the request
    /// (`SP-AUTH-003`) when the address has no refusals left. `None` when there is nothing to
    /// throttle: no address, or no credential presented.
    pub(super) fn take(
        state: &'a AppState,
        client: Option<IpAddr>,
        presents_credential: bool,
    ) -> Result<Option<Self>, ApiError> {
        let Some(address) = client.filter(|_| presents_credential) else {
            return Ok(None);
        };
        let attempt = Attempt {
            state,
            bucket: format!("refused-credentials:{address}"),
            quota: state.config().auth.failed_credential_limit,
        };
        let decision = state
            .failed_credentials()
            .check_now(&attempt.bucket, &attempt.quota);
        if decision.allowed {
            return Ok(Some(attempt));
        }
        metrics::counter!("sp_auth_throttled_total").increment(1);
        tracing::warn!(%address, "credentials refused too often from this address; throttled");
        Err(ApiError::from(decision.refusal()))
    }

    /// The credential was accepted (or never judged: a backend failed): the unit goes back.
    pub(super) fn give_back(self) {
        self.state
            .failed_credentials()
            .refund_now(&self.bucket, &self.quota, 1);
    }
}
