//! Bans across a cluster (PostgreSQL and Redis): a ban on one node closes the user's sockets on
//! another and every node refuses them; unbanning restores them; `confab admin` on the shared
//! database reaches every node.

use confab_client::{Client, Connection};

use crate::admin::banned;
use crate::cli_admin::{confab_admin, eventually};
use crate::harness::{register, temp_path, ServerProcess, PASSWORD};
use crate::services::{available, Isolation};
use crate::sessions::{closed_with, still_open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_on_one_node_closes_sockets_on_another_and_unbanning_restores() {
    if !available().await {
        return;
    }
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let mut args = iso.args();
    args.extend(["--admin-users".into(), "root".into(), "--moderation-poll-ms".into(), "200".into()]);
    let nodes: Vec<ServerProcess> =
        (0..2).map(|i| ServerProcess::spawn_with(&path.join(format!("node{i}")), &args)).collect();
    let (a, b) = (&nodes[0].url, &nodes[1].url);
    let root = register(a, "root").await;
    let alice = register(a, "alice").await;
    let bob = register(a, "bob").await;
    let on_b = Client::new(b).with_token(&alice.token);
    // Node B has checked (and cached) alice's token as fine before the ban.
    assert_eq!(on_b.me().await.unwrap().user.user_id, alice.id);
    let mut phone = Connection::connect(b, &alice.token, "phone").await.unwrap();
    let mut bobs = Connection::connect(b, &bob.token, "bob").await.unwrap();

    root.api.ban(&alice.id, "abuse", None).await.unwrap();
    assert_eq!(closed_with(&mut phone).await, Some(4004), "closed on node B");
    assert!(banned(&on_b.me().await.unwrap_err()), "refused on node B at once");
    assert!(banned(&Connection::connect(b, &alice.token, "phone").await.err().expect("upgrade refused")));
    assert!(banned(&Client::new(b).login("alice", PASSWORD).await.unwrap_err()));
    still_open(&mut bobs).await;

    root.api.unban(&alice.id).await.unwrap();
    // The unban reaches node B over Redis (nothing to wait on but its effect).
    eventually("node B accepts the token again", || async { on_b.me().await.is_ok() }).await;
    let mut phone = Connection::connect(b, &alice.token, "phone").await.unwrap();
    still_open(&mut phone).await;

    // The command line writes to the shared database only; the nodes read it from the log.
    let store = vec![
        "--database-url".to_string(),
        iso.database_url.clone(),
        "--database-schema".to_string(),
        iso.schema.clone(),
    ];
    confab_admin(&store, &["ban", "bob", "--reason", "spam"]).unwrap();
    assert_eq!(closed_with(&mut bobs).await, Some(4004), "node B read the ban from the log");
    let bob_on_a = Client::new(a).with_token(&bob.token);
    eventually("node A refuses bob", || async { bob_on_a.me().await.err().is_some_and(|e| banned(&e)) })
        .await;
    confab_admin(&store, &["unban", "bob"]).unwrap();
    eventually("node A accepts bob again", || async { bob_on_a.me().await.is_ok() }).await;
    still_open(&mut phone).await;
}
