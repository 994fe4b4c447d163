//! Ferrodis through the Rust `redis` crate (0.27), the way applications use it: sync and
//! async connections, pipelines, a multiplexed connection shared by many tasks, and the
//! database selected from the URL.

mod common;

use std::time::Duration;

use redis::AsyncCommands;
use redis::Commands;

#[test]
fn sync_connection_basics() {
    let srv = common::ferrodis(&[]);
    let client = redis::Client::open(srv.url()).expect("client");
    let mut con = client.get_connection().expect("connect");
    let pong: String = redis::cmd("PING").query(&mut con).expect("ping");
    assert_eq!(pong, "PONG");
    let echoed: Vec<u8> = redis::cmd("ECHO")
        .arg(&b"\x00bin\xff"[..])
        .query(&mut con)
        .expect("echo");
    assert_eq!(echoed, b"\x00bin\xff");

    let _: () = con.set("greeting", "hello").expect("set");
    let v: String = con.get("greeting").expect("get");
    assert_eq!(v, "hello");
    let missing: Option<String> = con.get("nope").expect("get missing");
    assert_eq!(missing, None);

    // SET with EX (the crate's `set_options`), then PX expiry observed through GET.
    let opts = redis::SetOptions::default().with_expiration(redis::SetExpiry::EX(100));
    let _: () = con.set_options("session", "data", opts).expect("set ex");
    let v: Option<String> = con.get("session").expect("get");
    assert_eq!(v.as_deref(), Some("data"));
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("x")
        .arg("PX")
        .arg(150)
        .query(&mut con)
        .expect("set px");
    assert_eq!(con.exists::<_, i64>("short").expect("exists"), 1);
    std::thread::sleep(Duration::from_millis(400));
    let gone: Option<String> = con.get("short").expect("get expired");
    assert_eq!(gone, None);

    // Errors come back as errors with Redis's text.
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(0)
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid expire time in 'set' command"),
        "{err}"
    );

    let n: i64 = con.del(&["greeting", "session", "nope"]).expect("del");
    assert_eq!(n, 2);
}

#[test]
fn sync_pipeline_and_atomic_pipeline_replies() {
    let srv = common::ferrodis(&[]);
    let client = redis::Client::open(srv.url()).expect("client");
    let mut con = client.get_connection().expect("connect");
    let mut p = redis::pipe();
    for i in 0..500 {
        p.set(format!("p{i}"), i).ignore();
    }
    for i in 0..500 {
        p.get(format!("p{i}"));
    }
    p.cmd("DBSIZE");
    let (vals, size): (Vec<i64>, i64) = {
        let mut out: Vec<redis::Value> = p.query(&mut con).expect("pipeline");
        let size: i64 = redis::from_redis_value(&out.pop().expect("dbsize")).expect("int");
        let vals: Vec<i64> = out
            .iter()
            .map(|v| redis::from_redis_value(v).expect("int"))
            .collect();
        (vals, size)
    };
    assert_eq!(vals, (0..500).collect::<Vec<i64>>());
    assert_eq!(size, 500);
}

#[test]
fn database_selected_from_url() {
    let srv = common::ferrodis(&[]);
    let db3 = redis::Client::open(format!("redis://127.0.0.1:{}/3", srv.port)).expect("client");
    let db0 = redis::Client::open(format!("redis://127.0.0.1:{}/0", srv.port)).expect("client");
    let mut c3 = db3.get_connection().expect("connect db3");
    let mut c0 = db0.get_connection().expect("connect db0");
    let _: () = c3.set("only-in-3", "yes").expect("set");
    assert_eq!(
        c3.get::<_, Option<String>>("only-in-3").expect("get"),
        Some("yes".into())
    );
    assert_eq!(c0.get::<_, Option<String>>("only-in-3").expect("get"), None);
    let size3: i64 = redis::cmd("DBSIZE").query(&mut c3).expect("dbsize");
    let size0: i64 = redis::cmd("DBSIZE").query(&mut c0).expect("dbsize");
    assert_eq!((size3, size0), (1, 0));
    // Selecting a database that does not exist is refused at connect time.
    let bad = redis::Client::open(format!("redis://127.0.0.1:{}/16", srv.port)).expect("client");
    let err = bad.get_connection().err().expect("db 16 must be refused");
    assert!(
        err.to_string().contains("DB index is out of range"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_multiplexed_connection_shared_by_50_tasks() {
    let srv = common::ferrodis(&[]);
    let client = redis::Client::open(srv.url()).expect("client");
    let con = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let pong: String = redis::cmd("PING")
        .query_async(&mut con.clone())
        .await
        .expect("ping");
    assert_eq!(pong, "PONG");

    // 50 tasks x 1000 commands on one multiplexed connection: every reply must reach the
    // task that sent the command (each task checks its own values).
    let mut tasks = Vec::new();
    for t in 0..50u32 {
        let mut con = con.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..1000u32 {
                let key = format!("t{t}:k{}", i % 20);
                let value = format!("{t}-{i}");
                let _: () = con.set(&key, &value).await.expect("set");
                let got: String = con.get(&key).await.expect("get");
                assert_eq!(got, value, "reply routed to the wrong task");
            }
            // A pipeline in the middle of the traffic.
            let mut p = redis::pipe();
            for i in 0..20u32 {
                p.get(format!("t{t}:k{i}"));
            }
            let vals: Vec<String> = p.query_async(&mut con).await.expect("pipeline");
            for (i, v) in vals.iter().enumerate() {
                assert_eq!(v, &format!("{t}-{}", 980 + i as u32));
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let mut con = con;
    let size: i64 = redis::cmd("DBSIZE")
        .query_async(&mut con)
        .await
        .expect("dbsize");
    assert_eq!(size, 50 * 20);
}

#[tokio::test]
async fn async_set_ex_and_expiry() {
    let srv = common::ferrodis(&[]);
    let client = redis::Client::open(srv.url()).expect("client");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let opts = redis::SetOptions::default().with_expiration(redis::SetExpiry::EX(1));
    let _: () = con.set_options("a", "1", opts).await.expect("set ex");
    let _: () = redis::cmd("SET")
        .arg("b")
        .arg("2")
        .arg("PX")
        .arg(100)
        .query_async(&mut con)
        .await
        .expect("set px");
    assert_eq!(
        con.get::<_, Option<String>>("a").await.expect("get"),
        Some("1".into())
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(con.get::<_, Option<String>>("a").await.expect("get"), None);
    assert_eq!(con.get::<_, Option<String>>("b").await.expect("get"), None);
    let n: i64 = redis::cmd("DBSIZE")
        .query_async(&mut con)
        .await
        .expect("dbsize");
    assert_eq!(n, 0);
    // FLUSHALL through the crate.
    let _: () = con.set("c", "3").await.expect("set");
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut con)
        .await
        .expect("flushall");
    assert_eq!(con.exists::<_, i64>("c").await.expect("exists"), 0);
}
