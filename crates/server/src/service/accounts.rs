//! Accounts: registration, login, bearer-token authentication (provisioning users of
//! application-minted tokens) and the user directory.

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{NewUser, SharedStore};
use confab_core::{validate, Error, Result};
use confab_proto::{AuthResponse, LoginRequest, RegisterRequest, User};
use dashmap::DashSet;

use crate::auth::{hash_password, verify_password, TokenKeys, ISSUER};

/// Default and largest number of users a directory look-up returns.
const SEARCH_DEFAULT_LIMIT: u32 = 20;
const SEARCH_MAX_LIMIT: u32 = 100;

pub(crate) struct Accounts {
    store: SharedStore,
    tokens: TokenKeys,
    /// Users of application-minted tokens known to exist, so only their first call hits the store.
    known_users: DashSet<String>,
}

impl Accounts {
    pub(crate) fn new(store: SharedStore, tokens: TokenKeys) -> Accounts {
        Accounts { store, tokens, known_users: DashSet::new() }
    }

    /// Creates a user with a password and signs them in.
    pub(crate) async fn register(&self, req: RegisterRequest) -> Result<AuthResponse> {
        let username = validate::username(&req.username)?;
        validate::password(&req.password)?;
        let display_name = validate::display_name(req.display_name.as_deref(), &username)?;
        let password_hash = hash_password(req.password).await?;
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

    /// Checks a username and password. A wrong password and an unknown user fail alike, and take
    /// as long.
    pub(crate) async fn login(&self, req: LoginRequest) -> Result<AuthResponse> {
        let wrong = || Error::Unauthorized("wrong username or password".into());
        let credentials = match validate::username(&req.username) {
            Ok(name) => self.store.credentials(&name).await?,
            Err(_) => None,
        };
        let (user, hash) = match credentials {
            Some(c) => (Some(c.user), c.password_hash),
            None => (None, None),
        };
        if !verify_password(req.password, hash).await? {
            return Err(wrong());
        }
        self.signed_in(user.ok_or_else(wrong)?)
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

    /// The user a bearer token stands for. Application-minted tokens may provision their user.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<String> {
        let claims = self.tokens.verify(token)?;
        if claims.iss.as_deref() == Some(ISSUER) || self.known_users.contains(&claims.sub) {
            return Ok(claims.sub);
        }
        validate::client_id("sub", &claims.sub)
            .map_err(|_| Error::Unauthorized("token `sub` is invalid".into()))?;
        if self.store.user(&claims.sub).await?.is_none() {
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
