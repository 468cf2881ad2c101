//! etcd's election service: campaign (wait to lead), resign, who leads,
//! and a stream of leaders.

use crate::client::{Client, MAX_MESSAGE};
use crate::error::{Error, Result};
use crate::pb::mvccpb::KeyValue;
use crate::pb::v3electionpb as pb;
use crate::pb::v3electionpb::election_client::ElectionClient;
use tonic::transport::Channel;

/// The key that makes its holder the leader of an election; resign with
/// it. It lives as long as the lease it was campaigned with.
pub type LeaderKey = pb::LeaderKey;

fn election(channel: Channel) -> ElectionClient<Channel> {
    ElectionClient::new(channel).max_decoding_message_size(MAX_MESSAGE)
}

/// etcd answers "no leader" as an error with this message.
const NO_LEADER: &str = "election: no leader";

/// A stream of an election's leaders.
pub struct Observe {
    what: String,
    endpoint: String,
    stream: tonic::Streaming<pb::LeaderResponse>,
}

impl std::fmt::Debug for Observe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observe")
            .field("what", &self.what)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Client {
    /// Campaign in election `name` with `value`, under `lease`: waits (no
    /// timeout: wrap it in one, or drop it, to give up) until this
    /// campaigner leads, then returns its leader key.
    pub async fn campaign(
        &self,
        name: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        lease: i64,
    ) -> Result<LeaderKey> {
        let request = pb::CampaignRequest {
            name: name.into(),
            lease,
            value: value.into(),
        };
        let what = || {
            let name = String::from_utf8_lossy(&request.name);
            format!("campaign in election {name} in etcd")
        };
        let answer = self
            .failover(&what, false, |ch| {
                let request = request.clone();
                async move { election(ch).campaign(request).await }
            })
            .await?;
        let endpoint = answer.endpoint;
        answer.value.into_inner().leader.ok_or(Error::Malformed {
            what: what(),
            endpoint,
            missing: "a leader key",
        })
    }

    /// Give up leadership held with `leader`.
    pub async fn resign(&self, leader: LeaderKey) -> Result<()> {
        let what = || {
            let name = String::from_utf8_lossy(&leader.name);
            format!("resign from election {name} in etcd")
        };
        let request = pb::ResignRequest {
            leader: Some(leader.clone()),
        };
        self.failover(&what, true, |ch| {
            let request = request.clone();
            async move { election(ch).resign(request).await }
        })
        .await?;
        Ok(())
    }

    /// The leader's key and value, `None` when nobody leads.
    pub async fn leader(&self, name: impl Into<Vec<u8>>) -> Result<Option<KeyValue>> {
        let name = name.into();
        let what = || {
            format!(
                "read the leader of election {}",
                String::from_utf8_lossy(&name)
            )
        };
        let answer = self
            .failover(&what, true, |ch| {
                let name = name.clone();
                async move {
                    match election(ch).leader(pb::LeaderRequest { name }).await {
                        Ok(answer) => Ok(answer.into_inner().kv),
                        Err(status) if status.message().contains(NO_LEADER) => Ok(None),
                        Err(status) => Err(status),
                    }
                }
            })
            .await?;
        Ok(answer.value)
    }

    /// Follow election `name`: each leader as it takes over (the current
    /// one first, once there is one).
    pub async fn observe(&self, name: impl Into<Vec<u8>>) -> Result<Observe> {
        let name = name.into();
        let what = format!(
            "observe election {} in etcd",
            String::from_utf8_lossy(&name)
        );
        let describe = || what.clone();
        let answer = self
            .failover(&describe, true, |ch| {
                let name = name.clone();
                async move { election(ch).observe(pb::LeaderRequest { name }).await }
            })
            .await?;
        Ok(Observe {
            what,
            endpoint: answer.endpoint,
            stream: answer.value.into_inner(),
        })
    }
}

impl Observe {
    /// The next leader. An error ends the stream: observe again.
    pub async fn next(&mut self) -> Result<KeyValue> {
        loop {
            match self.stream.message().await {
                Ok(Some(answer)) => match answer.kv {
                    Some(kv) => return Ok(kv),
                    None => continue,
                },
                Ok(None) => {
                    return Err(Error::StreamEnded {
                        what: self.what.clone(),
                        endpoint: self.endpoint.clone(),
                        reason: "closed".into(),
                    });
                }
                Err(source) => {
                    return Err(Error::StreamBroken {
                        what: self.what.clone(),
                        endpoint: self.endpoint.clone(),
                        source,
                    });
                }
            }
        }
    }
}
