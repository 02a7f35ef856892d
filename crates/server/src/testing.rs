//! Building an [`App`] for unit tests the way `Server::bind` does without a database URL or Redis:
//! the embedded store in a temporary directory and the in-process bus. No HTTP, no sockets.

use std::sync::{Arc, OnceLock};

use confab_bus::InProcessBus;
use confab_core::bus::SharedBus;
use confab_core::store::{NewUser, SharedStore};
use confab_proto::ServerEnvelope;
use confab_store::SqliteStore;

use crate::app::App;
use crate::config::ServerConfig;
use crate::fanout::MemberCache;
use crate::hub::{ConnectionHandle, Hub};
use crate::node::NodeHandler;
use crate::outbox::{Outbox, OutboxReceiver};

pub(crate) struct TestApp {
    pub(crate) app: Arc<App>,
    /// The same store the services use, for setting up users directly.
    pub(crate) store: SharedStore,
    /// Attachments' bytes live under `media` here.
    pub(crate) dir: tempfile::TempDir,
}

impl TestApp {
    pub(crate) fn new(config: ServerConfig) -> TestApp {
        TestApp::with_bus(config, |bus| bus)
    }

    /// Lets a test put its own [`confab_core::bus::Bus`] in front of the in-process one.
    pub(crate) fn with_bus(
        config: ServerConfig,
        wrap: impl FnOnce(Arc<InProcessBus>) -> SharedBus,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store: SharedStore =
            Arc::new(SqliteStore::open(&dir.path().join("confab.db")).expect("embedded store"));
        let hub = Arc::new(Hub::new());
        let members = Arc::new(MemberCache::default());
        let handler = Arc::new(NodeHandler {
            hub: hub.clone(),
            members: members.clone(),
            presence: OnceLock::new(),
            revocations: Default::default(),
            blocks: Default::default(),
            bans: Default::default(),
            ordering: crate::ordering::Ordering::new(hub, store.clone(), members, crate::ordering::HOLD),
        });
        let bus = Arc::new(InProcessBus::new());
        bus.attach(handler.clone());
        let admins = Arc::new(crate::moderator::Admins::new(&config.moderation.admin_users).expect("admins"));
        let blobs = confab_media::BlobStore::local(&dir.path().join("media")).expect("blob store");
        let bus = wrap(bus);
        let push = crate::service::Push::without_providers(store.clone(), bus.clone(), "test-node");
        let app = App::new(
            config,
            store.clone(),
            bus,
            &handler,
            "test-secret",
            "test-node",
            admins,
            0,
            blobs,
            push,
            None,
        );
        TestApp { app: Arc::new(app), store, dir }
    }

    /// A user with `id` as both id and username.
    pub(crate) async fn user(&self, id: &str) {
        self.store
            .create_user(NewUser {
                user_id: id.to_string(),
                username: id.to_string(),
                display_name: id.to_string(),
                password_hash: None,
                created_at: 0,
                invite: None,
            })
            .await
            .expect("user created");
    }

    /// Registers a device of `user` with this node's hub, as a WebSocket session would; returns
    /// what the device is sent.
    pub(crate) fn device(&self, user: &str, connection: &str) -> Device {
        let (outbox, rx) = Outbox::new(64);
        self.app
            .connections()
            .register(user, ConnectionHandle::new(connection.into(), outbox, Default::default(), connection));
        Device { rx }
    }
}

pub(crate) struct Device {
    rx: OutboxReceiver,
}

impl Device {
    /// The next frame this device is sent (panics after 10 s without one, so a failing test ends).
    pub(crate) async fn next(&mut self) -> ServerEnvelope {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a frame within 10 s")
            .expect("device still registered");
        ServerEnvelope::parse(&frame).expect("valid frame").expect("known frame")
    }

    /// Frames already queued for this device, without waiting.
    pub(crate) fn queued(&mut self) -> Vec<ServerEnvelope> {
        std::iter::from_fn(|| self.rx.try_recv())
            .map(|f| ServerEnvelope::parse(&f).expect("valid frame").expect("known frame"))
            .collect()
    }
}
