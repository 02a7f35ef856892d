//! Accounts: registration, login, bearer-token authentication (provisioning users of
//! application-minted tokens) and the user directory.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{NewUser, SharedStore};
use confab_core::{validate, Error, Result};
use confab_proto::{AuthResponse, LoginRequest, RegisterRequest, User};
use dashmap::DashSet;

use super::throttle::{address_key, retry_after_secs, Backoff, Buckets};
use crate::auth::{HashPool, TokenKeys, ISSUER};
use crate::config::AuthLimits;

/// Default and largest number of users a directory look-up returns.
const SEARCH_DEFAULT_LIMIT: u32 = 20;
const SEARCH_MAX_LIMIT: u32 = 100;

pub(crate) struct Accounts {
    store: SharedStore,
    tokens: TokenKeys,
    /// Users of tokens known to exist, so only a user's first call hits the store.
    known_users: DashSet<String>,
    /// Argon2 work, off the async runtime and bounded.
    hasher: HashPool,
    /// Failed logins per username.
    login_failures: Backoff,
    /// Failed logins per client address.
    address_failures: Buckets<IpAddr>,
    /// Registration attempts per client address.
    registrations: Buckets<IpAddr>,
}

fn rate_limited(wait: Duration) -> Error {
    metrics::counter!("confab_auth_throttled_total").increment(1);
    Error::RateLimited { retry_after_secs: retry_after_secs(wait) }
}

/// The key a login attempt is throttled under: the username as it would be looked up, whether or
/// not such a user exists (so throttling says nothing about who has an account).
fn login_key(raw: &str) -> String {
    validate::username(raw).unwrap_or_else(|_| raw.trim().chars().take(64).collect::<String>().to_lowercase())
}

impl Accounts {
    pub(crate) fn new(store: SharedStore, tokens: TokenKeys, limits: &AuthLimits) -> Accounts {
        Accounts {
            store,
            tokens,
            known_users: DashSet::new(),
            hasher: HashPool::new(limits.hash_workers, limits.hash_queue),
            login_failures: Backoff::new(limits.login_failures_per_account, limits.login_backoff_max),
            address_failures: Buckets::new(limits.login_failures_per_address, Duration::from_secs(5 * 60)),
            registrations: Buckets::new(limits.registrations_per_address, Duration::from_secs(3600)),
        }
    }

    /// The pool that hashes and checks passwords.
    #[cfg(test)]
    pub(crate) fn hasher(&self) -> &HashPool {
        &self.hasher
    }

    /// Creates a user with a password and signs them in. The input is checked first (free), then
    /// the registrations of `from`, and only then is the password hashed.
    pub(crate) async fn register(&self, req: RegisterRequest, from: IpAddr) -> Result<AuthResponse> {
        let username = validate::username(&req.username)?;
        validate::password(&req.password, &username)?;
        let display_name = validate::display_name(req.display_name.as_deref(), &username)?;
        let address = address_key(from);
        self.registrations.take(address, Instant::now()).map_err(rate_limited)?;
        let password_hash = match self.hasher.hash(req.password).await {
            Ok(hash) => hash,
            Err(e) => {
                // Refused by a full hashing queue: nothing was done, so it does not count.
                self.registrations.give_back(address);
                return Err(e);
            }
        };
        let user = self
            .store
            .create_user(NewUser {
                user_id: new_id(),
                username,
                display_name,
                password_hash: Some(password_hash),
                created_at: now_millis(),
            })
            .await?;
        self.signed_in(user)
    }

    /// Checks a username and password. A wrong password and an unknown user fail alike, and cost
    /// one password verification alike. Throttles are consulted before that verification: the
    /// failures of `from` and then of the username; a refused attempt is `RATE_LIMITED`.
    pub(crate) async fn login(&self, req: LoginRequest, from: IpAddr) -> Result<AuthResponse> {
        let wrong = || Error::Unauthorized("wrong username or password".into());
        let now = Instant::now();
        let address = address_key(from);
        let key = login_key(&req.username);
        self.address_failures.take(address, now).map_err(rate_limited)?;
        if let Err(wait) = self.login_failures.admit(&key, now) {
            // Refused before any work: not a failure of this address.
            self.address_failures.give_back(address);
            return Err(rate_limited(wait));
        }
        let checked = self.check_password(req).await;
        match &checked {
            Ok(Some(_)) => {
                self.login_failures.succeeded(&key);
                self.address_failures.give_back(address);
            }
            Ok(None) => {}
            Err(_) => {
                // Not checked (a full hashing queue, a storage fault): no failure to count.
                self.login_failures.withdraw(&key);
                self.address_failures.give_back(address);
            }
        }
        self.signed_in(checked?.ok_or_else(wrong)?)
    }

    /// The user whose password this is, if it is.
    async fn check_password(&self, req: LoginRequest) -> Result<Option<User>> {
        let credentials = match validate::username(&req.username) {
            Ok(name) => self.store.credentials(&name).await?,
            Err(_) => None,
        };
        let (user, hash) = match credentials {
            Some(c) => (Some(c.user), c.password_hash),
            None => (None, None),
        };
        Ok(if self.hasher.verify(req.password, hash).await? { user } else { None })
    }

    fn signed_in(&self, user: User) -> Result<AuthResponse> {
        let (token, expires_at) = self.tokens.issue(&user.user_id)?;
        Ok(AuthResponse {
            user_id: user.user_id,
            username: user.username,
            display_name: user.display_name,
            token,
            expires_at,
        })
    }

    /// The user a bearer token stands for, who must exist. Application-minted tokens may provision
    /// their user; a token Confab issued outlives its user if the user is gone (a database
    /// restored from before they registered), and is refused then.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<String> {
        let claims = self.tokens.verify(token)?;
        if self.known_users.contains(&claims.sub) {
            return Ok(claims.sub);
        }
        let issued_here = claims.iss.as_deref() == Some(ISSUER);
        if !issued_here {
            validate::client_id("sub", &claims.sub)
                .map_err(|_| Error::Unauthorized("token `sub` is invalid".into()))?;
        }
        if self.store.user(&claims.sub).await?.is_none() {
            if issued_here {
                return Err(Error::Unauthorized("the token's user does not exist".into()));
            }
            let Some(username) = claims.username.as_deref() else {
                return Err(Error::Unauthorized(
                    "token names an unknown user and carries no `username`".into(),
                ));
            };
            let username = validate::username(username).map_err(|e| Error::Unauthorized(e.to_string()))?;
            let display_name = validate::display_name(claims.display_name.as_deref(), &username)
                .map_err(|e| Error::Unauthorized(e.to_string()))?;
            let created = self
                .store
                .create_user(NewUser {
                    user_id: claims.sub.clone(),
                    username,
                    display_name,
                    password_hash: None,
                    created_at: now_millis(),
                })
                .await;
            match created {
                Ok(_) => {}
                Err(Error::UsernameTaken) => {
                    // Another request may have provisioned this very user meanwhile.
                    if self.store.user(&claims.sub).await?.is_none() {
                        return Err(Error::Unauthorized("token `username` belongs to another user".into()));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.known_users.insert(claims.sub.clone());
        Ok(claims.sub)
    }

    /// One user by id (`USER_NOT_FOUND` if there is none).
    pub(crate) async fn user(&self, user_id: &str) -> Result<User> {
        self.store.user(user_id).await?.ok_or_else(|| Error::UserNotFound(user_id.to_string()))
    }

    /// Users whose username starts with `prefix`, ordered by username.
    pub(crate) async fn search(&self, prefix: &str, limit: Option<u32>) -> Result<Vec<User>> {
        let limit = limit.unwrap_or(SEARCH_DEFAULT_LIMIT).clamp(1, SEARCH_MAX_LIMIT);
        self.store.search_users(prefix, limit).await
    }
}
