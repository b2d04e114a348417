//! Agents that misbehave: one presenting another node's certificate is
//! refused, and a report about a job the node was never given is logged and
//! ignored. Both speak the real protocol, as an agent would.

mod support;

use std::time::Duration;

use corral_proto as wire;
use corral_proto::frame::{read_frame, write_frame};
use support::DevCluster;

/// A QUIC session with the leader as `node`, presenting node001's certificate.
async fn say_hello(
    cluster: &DevCluster,
    leader_address: &str,
    node: &str,
) -> (quinn::Connection, quinn::SendStream, quinn::RecvStream) {
    let tls = cluster.path().join("tls");
    let ca = corral_tls::load::load_ca_certificates(&tls.join("ca.pem")).unwrap();
    let identity = corral_tls::load::load_identity(
        &tls.join("node-node001.pem"),
        &tls.join("node-node001-key.pem"),
    )
    .unwrap();
    let endpoint = corral_agent::session::client_endpoint(&ca, &identity).unwrap();
    let connection = endpoint
        .connect(leader_address.parse().unwrap(), "127.0.0.1")
        .unwrap()
        .await
        .unwrap();
    let (mut send, recv) = connection.open_bi().await.unwrap();
    let hello = wire::AgentMessage {
        body: Some(wire::agent_message::Body::Hello(wire::AgentHello {
            node: node.to_string(),
            resources: Some(wire::NodeResources {
                cpus: 4,
                memory_mb: 4096,
                gpus: vec![],
            }),
            running: vec![],
            version: "test".into(),
            running_steps: Vec::new(),
        })),
    };
    write_frame(&mut send, &hello).await.unwrap();
    (connection, send, recv)
}

#[test]
fn an_agent_with_another_nodes_certificate_is_refused() {
    let cluster = DevCluster::with_agents(3, 2, &[]);
    let leader = cluster.leader();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (_connection, _send, mut recv) = say_hello(&cluster, &leader.address, "node002").await;
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            read_frame::<_, wire::ControllerMessage>(&mut recv),
        )
        .await
        .expect("the controller answers or closes");
        assert!(answer.is_err(), "an impostor was welcomed: {answer:?}");
    });
    let log = cluster.log(leader.id);
    assert!(
        log.contains("refused an agent whose certificate names another node"),
        "{log}"
    );
    // The real node002 is untouched.
    assert!(cluster
        .nodes()
        .iter()
        .any(|n| n.name == "node002" && n.availability == "UP"));
}

#[test]
fn a_report_of_a_job_never_given_is_logged_and_ignored() {
    let cluster = DevCluster::with_agents(3, 1, &[]);
    cluster.kill("agent-node001");
    let leader = cluster.leader();
    let before = cluster.job_states();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (_connection, mut send, mut recv) =
            say_hello(&cluster, &leader.address, "node001").await;
        let welcome: wire::ControllerMessage = read_frame(&mut recv).await.unwrap();
        assert!(
            matches!(
                welcome.body,
                Some(wire::controller_message::Body::Welcome(_))
            ),
            "{welcome:?}"
        );
        let ended = wire::AgentMessage {
            body: Some(wire::agent_message::Body::Ended(wire::JobEnded {
                job_id: 424_242,
                allocation_id: 7,
                exit_code: 0,
                exit_signal: 0,
                cause: wire::FinishCause::Exited as i32,
                message: String::new(),
            })),
        };
        write_frame(&mut send, &ended).await.unwrap();
        // The leader acknowledges it, so the agent stops repeating it.
        loop {
            let message: wire::ControllerMessage =
                tokio::time::timeout(Duration::from_secs(30), read_frame(&mut recv))
                    .await
                    .expect("an acknowledgement")
                    .unwrap();
            if let Some(wire::controller_message::Body::EndRecorded(end)) = message.body {
                assert_eq!((end.job_id, end.allocation_id), (424_242, 7));
                break;
            }
        }
    });
    let log = cluster.log(leader.id);
    assert!(
        log.contains("agent reported the end of a job it was never given; ignored"),
        "{log}"
    );
    assert_eq!(cluster.job_states(), before, "the state changed");
}
