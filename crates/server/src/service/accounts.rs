//! Accounts: registration, login, bearer-token authentication (provisioning users of
//! application-minted tokens, refusing revoked tokens and banned users), logout, password and
//! profile changes, and the user directory.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_core::bus::{ClusterEvent, Revoked, SharedBus};
use confab_core::ids::{new_id, now_millis};
use confab_core::rules::posting::SYSTEM_USER_ID;
use confab_core::rules::sessions::TokenSession;
use confab_core::store::{InviteRedemption, NewUser, SharedStore};
use confab_core::{validate, Error, Result};
use confab_proto::{
    AuthResponse, ChangePasswordRequest, LoginRequest, Profile, RegisterRequest, RegistrationMode,
    UpdateProfileRequest, User,
};
use dashmap::DashSet;

use super::moderation::BanCache;
use super::sessions::RevocationCache;
use super::throttle::{address_key, retry_after_secs, Backoff, Buckets};
use crate::auth::{HashPool, TokenKeys, ISSUER};
use crate::config::AuthLimits;
use crate::moderator::Admins;
use crate::webhooks::{WebhookEvent, Webhooks};

/// Default and largest number of users a directory look-up returns.
const SEARCH_DEFAULT_LIMIT: u32 = 20;
const SEARCH_MAX_LIMIT: u32 = 100;

/// A caller whose bearer token checked out: who they are and which token they used.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    pub(crate) user_id: String,
    pub(crate) session: TokenSession,
    /// The token's expiry (ms since the epoch): how long its revocation must be remembered.
    pub(crate) expires_at: i64,
}

pub(crate) struct Accounts {
    store: SharedStore,
    bus: SharedBus,
    tokens: TokenKeys,
    /// This node's copy of users' revocations (shared with the bus handler, which invalidates it).
    revocations: Arc<RevocationCache>,
    /// This node's copy of users' bans (likewise).
    bans: Arc<BanCache>,
    /// The configured server administrators.
    admins: Arc<Admins>,
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
    /// Who may register.
    registration: RegistrationMode,
    /// `user.registered`, from the node that registered or provisioned the user.
    webhooks: Webhooks,
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
    pub(crate) fn new(
        store: SharedStore,
        bus: SharedBus,
        revocations: Arc<RevocationCache>,
        bans: Arc<BanCache>,
        admins: Arc<Admins>,
        tokens: TokenKeys,
        limits: &AuthLimits,
    ) -> Accounts {
        Accounts {
            store,
            bus,
            revocations,
            bans,
            admins,
            tokens,
            known_users: DashSet::new(),
            hasher: HashPool::new(limits.hash_workers, limits.hash_queue),
            login_failures: Backoff::new(limits.login_failures_per_account, limits.login_backoff_max),
            address_failures: Buckets::new(limits.login_failures_per_address, Duration::from_secs(5 * 60)),
            registrations: Buckets::new(limits.registrations_per_address, Duration::from_secs(3600)),
            registration: limits.registration,
            webhooks: Webhooks::default(),
        }
    }

    /// The same accounts, telling `webhooks` of every user registered or provisioned.
    pub(crate) fn with_webhooks(self, webhooks: Webhooks) -> Accounts {
        Accounts { webhooks, ..self }
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
        let invite = match self.registration {
            RegistrationMode::Open => None,
            RegistrationMode::Closed => {
                return Err(Error::Forbidden("registration is closed on this server".into()))
            }
            RegistrationMode::Invite => {
                let code = req.invite_code.as_deref().map(str::trim).unwrap_or_default();
                if code.is_empty() {
                    return Err(Error::Forbidden(
                        "this server registers by invite only: an invite code is required".into(),
                    ));
                }
                Some(InviteRedemption { code_hash: crate::invites::code_hash(code), at: now_millis() })
            }
        };
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
                invite,
            })
            .await?;
        self.webhooks.emit(WebhookEvent::UserRegistered { user: user.clone() });
        self.signed_in(user)
    }

    /// Checks a username and password. A wrong password and an unknown user fail alike, and cost
    /// one password verification alike. Throttles are consulted before that verification: the
    /// failures of `from` and then of the username; a refused attempt is `RATE_LIMITED`.
    pub(crate) async fn login(&self, req: LoginRequest, from: IpAddr) -> Result<AuthResponse> {
        let wrong = || Error::Unauthorized("wrong username or password".into());
        let key = login_key(&req.username);
        let address = self.admit_attempt(&key, from)?;
        let checked = self.check_password(req).await;
        self.count_attempt(&checked, &key, address);
        let user = checked?.ok_or_else(wrong)?;
        // Only the password's owner learns that the account is suspended.
        if let Some(ban) = self.ban_of(&user.user_id).await? {
            return Err(confab_core::rules::moderation::refusal(&ban));
        }
        self.signed_in(user)
    }

    /// Books a password check against the throttles it was admitted by.
    fn count_attempt<T>(&self, checked: &Result<Option<T>>, key: &str, address: IpAddr) {
        match checked {
            Ok(Some(_)) => {
                self.login_failures.succeeded(key);
                self.address_failures.give_back(address);
            }
            Ok(None) => {}
            Err(_) => {
                // Not checked (a full hashing queue, a storage fault): no failure to count.
                self.login_failures.withdraw(key);
                self.address_failures.give_back(address);
            }
        }
    }

    /// Admits a password check of `key` from `from`: the failures of the address, then of the key.
    fn admit_attempt(&self, key: &str, from: IpAddr) -> Result<IpAddr> {
        let now = Instant::now();
        let address = address_key(from);
        self.address_failures.take(address, now).map_err(rate_limited)?;
        if let Err(wait) = self.login_failures.admit(key, now) {
            // Refused before any work: not a failure of this address.
            self.address_failures.give_back(address);
            return Err(rate_limited(wait));
        }
        Ok(address)
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
        Ok(self.authenticate_session(token).await?.user_id)
    }

    /// The user a bearer token stands for and which token it is: signed, unexpired and not revoked
    /// (`UNAUTHORIZED` otherwise). Application-minted tokens may provision their user.
    pub(crate) async fn authenticate_session(&self, token: &str) -> Result<Authenticated> {
        let claims = self.tokens.verify_any(token).await?;
        let session = claims.session();
        let expires_at = claims.exp.saturating_mul(1000);
        let user_id = self.token_user(claims).await?;
        if self.revocations.is_revoked(&self.store, &user_id, &session).await? {
            return Err(Error::Unauthorized("token was revoked".into()));
        }
        if let Some(ban) = self.ban_of(&user_id).await? {
            return Err(confab_core::rules::moderation::refusal(&ban));
        }
        Ok(Authenticated { user_id, session, expires_at })
    }

    /// `user`'s ban in force now, if any.
    pub(crate) async fn ban_of(&self, user: &str) -> Result<Option<Arc<confab_proto::Ban>>> {
        self.bans.ban_of(&self.store, user).await
    }

    /// The user a verified token names, provisioned if it is application-minted and new.
    async fn token_user(&self, claims: crate::auth::Claims) -> Result<String> {
        if self.known_users.contains(&claims.sub) {
            return Ok(claims.sub);
        }
        let issued_here = claims.iss.as_deref() == Some(ISSUER);
        if !issued_here {
            validate::client_id("sub", &claims.sub)
                .map_err(|_| Error::Unauthorized("token `sub` is invalid".into()))?;
        }
        if claims.sub == SYSTEM_USER_ID {
            // The system account acts only through the server API, never with a token.
            return Err(Error::Unauthorized("no token is valid for the system account".into()));
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
                    invite: None,
                })
                .await;
            match created {
                Ok(user) => self.webhooks.emit(WebhookEvent::UserRegistered { user }),
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

    /// Whether `session`, a token of `user` that authenticated earlier, is revoked by now.
    pub(crate) async fn is_revoked(&self, user: &str, session: &TokenSession) -> Result<bool> {
        self.revocations.is_revoked(&self.store, user, session).await
    }

    /// Revokes the caller's token (logout). A token without a session id (`jti`; some
    /// application-minted tokens) cannot be revoked alone: `INVALID_REQUEST`, use logout-all.
    pub(crate) async fn logout(&self, caller: &Authenticated) -> Result<()> {
        let Some(session_id) = caller.session.session_id.clone() else {
            return Err(Error::InvalidRequest(
                "this token has no session id (`jti`) to revoke; use logout-all".into(),
            ));
        };
        self.store.revoke_session(&caller.user_id, &session_id, caller.expires_at).await?;
        self.revoked(&caller.user_id, Revoked::Session(session_id));
        Ok(())
    }

    /// Revokes every token of the caller issued until now, the calling one included.
    pub(crate) async fn logout_all(&self, caller: &Authenticated) -> Result<()> {
        // Tokens issued in this very millisecond are covered too.
        let before = now_millis() + 1;
        self.store.revoke_sessions_before(&caller.user_id, before, None).await?;
        self.revoked(&caller.user_id, Revoked::IssuedBefore { before, keep: None });
        Ok(())
    }

    /// Changes the caller's password: the old one must match (checked like a login, under the same
    /// throttles; wrong: `UNAUTHORIZED`), the new one must pass the password policy. Every other
    /// token of the caller is revoked; the calling one stays valid.
    pub(crate) async fn change_password(
        &self,
        caller: &Authenticated,
        req: ChangePasswordRequest,
        from: IpAddr,
    ) -> Result<()> {
        let user = self.user(&caller.user_id).await?;
        validate::password(&req.new_password, &user.username)?;
        let key = login_key(&user.username);
        let address = self.admit_attempt(&key, from)?;
        let checked = self
            .check_password(LoginRequest { username: user.username.clone(), password: req.old_password })
            .await
            .map(|found| found.filter(|u| u.user_id == caller.user_id));
        self.count_attempt(&checked, &key, address);
        if checked?.is_none() {
            return Err(Error::Unauthorized("wrong password".into()));
        }
        let hash = self.hasher.hash(req.new_password).await?;
        let before = now_millis() + 1;
        let keep = caller.session.session_id.clone();
        self.store.set_password(&caller.user_id, &hash, before, keep.as_deref()).await?;
        self.revoked(&caller.user_id, Revoked::IssuedBefore { before, keep });
        Ok(())
    }

    /// Changes the caller's display name (normalized like a registration's; empty: the username)
    /// and/or whether others see when they were last seen; at least one must be given. A change
    /// of the latter reaches every node's presence cache through the bus.
    pub(crate) async fn update_profile(&self, user_id: &str, req: UpdateProfileRequest) -> Result<Profile> {
        if req.display_name.is_none() && req.show_last_seen.is_none() {
            return Err(Error::InvalidRequest("give displayName, showLastSeen or both".into()));
        }
        let mut user = self.user(user_id).await?;
        let display_name = match &req.display_name {
            Some(name) => Some(validate::display_name(Some(name), &user.username)?),
            None => None,
        };
        if let Some(show) = req.show_last_seen {
            self.store.set_show_last_seen(user_id, show).await?;
            self.bus.broadcast(ClusterEvent::LastSeenShown { user_id: user_id.to_string(), show });
        }
        if let Some(display_name) = display_name {
            user = self.store.set_display_name(user_id, &display_name).await?;
        }
        self.profile(user).await
    }

    /// The caller with their own settings (`GET /api/v1/users/me`).
    pub(crate) async fn me(&self, user_id: &str) -> Result<Profile> {
        let user = self.user(user_id).await?;
        self.profile(user).await
    }

    async fn profile(&self, user: User) -> Result<Profile> {
        let show_last_seen = self.store.show_last_seen(&user.user_id).await?;
        let admin = self.admins.contains(&user.username);
        Ok(Profile { user, show_last_seen, admin })
    }

    /// Tells this node at once, and every node through the bus, that `user`'s tokens `revoked`
    /// covers are revoked (already recorded in the store).
    fn revoked(&self, user: &str, revoked: Revoked) {
        metrics::counter!("confab_sessions_revoked_total").increment(1);
        self.revocations.invalidate(user);
        self.bus.broadcast(ClusterEvent::SessionsRevoked { user_id: user.to_string(), revoked });
    }

    /// Forgets revoked sessions whose tokens have expired anyway.
    pub(crate) async fn purge_revoked_sessions(&self) -> Result<u64> {
        self.store.purge_revoked_sessions(now_millis()).await
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
