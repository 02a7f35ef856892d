//! Registration control with the real binary: an open server registers anyone, a closed one no
//! one, an invite-only one whoever brings a code from `confab admin invite create`, as many times
//! as the code allows.

use confab_client::Client;
use confab_proto::{ErrorCode, RegisterRequest, RegistrationMode};

use crate::cli_admin::confab_admin;
use crate::harness::{temp_path, ServerProcess, PASSWORD};

fn request(name: &str, code: Option<&str>) -> RegisterRequest {
    RegisterRequest {
        username: name.into(),
        password: PASSWORD.into(),
        display_name: None,
        invite_code: code.map(Into::into),
    }
}

async fn refused(api: &Client, req: &RegisterRequest) -> ErrorCode {
    api.register_with(req).await.expect_err("refused").code().expect("a protocol error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_only_registration_admits_as_many_as_each_code_allows() {
    let (_dir, path) = temp_path();
    let server = ServerProcess::spawn_with(&path, &["--registration".into(), "invite".into()]);
    let api = Client::new(&server.url);
    assert_eq!(api.registration().await.unwrap().mode, RegistrationMode::Invite);
    assert_eq!(refused(&api, &request("alice", None)).await, ErrorCode::Forbidden);
    assert_eq!(refused(&api, &request("alice", Some("0000-not-a-code"))).await, ErrorCode::Forbidden);

    let store = vec!["--data-dir".to_string(), path.display().to_string()];
    let made = confab_admin(&store, &["invite", "create", "--uses", "2", "--for", "7d"]).unwrap();
    let code = made["code"].as_str().unwrap().to_string();
    assert_eq!((made["uses"].as_u64(), made["usesLeft"].as_u64()), (Some(2), Some(2)));
    api.register_with(&request("alice", Some(&code))).await.unwrap();
    // A taken username takes no use of the code.
    assert_eq!(refused(&api, &request("alice", Some(&code))).await, ErrorCode::UsernameTaken);
    api.register_with(&request("bob", Some(&format!(" {code} ")))).await.unwrap();
    assert_eq!(refused(&api, &request("carol", Some(&code))).await, ErrorCode::Forbidden, "used up");

    let listed = confab_admin(&store, &["invite", "list"]).unwrap();
    assert_eq!(listed[0]["usesLeft"], 0);
    assert!(listed[0].get("code").is_none() && !listed.to_string().contains(&code), "codes are never listed");
    let spare = confab_admin(&store, &["invite", "create"]).unwrap();
    confab_admin(&store, &["invite", "revoke", spare["inviteId"].as_str().unwrap()]).unwrap();
    let revoked = request("carol", spare["code"].as_str());
    assert_eq!(refused(&api, &revoked).await, ErrorCode::Forbidden, "revoked");
    // Logins are unaffected.
    api.login("alice", PASSWORD).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_server_registers_no_one_and_says_so() {
    let (_dir, path) = temp_path();
    let server = ServerProcess::spawn_with(&path, &["--registration".into(), "closed".into()]);
    let api = Client::new(&server.url);
    assert_eq!(api.registration().await.unwrap().mode, RegistrationMode::Closed);
    let err = api.register_with(&request("alice", None)).await.expect_err("refused");
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    assert!(err.to_string().contains("registration is closed"), "{err}");
    let open = ServerProcess::spawn(&path.join("open"));
    assert_eq!(Client::new(&open.url).registration().await.unwrap().mode, RegistrationMode::Open);
}
