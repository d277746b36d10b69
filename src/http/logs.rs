//! `GET pods/{name}/log`: a container's output from Docker as chunked `text/plain`, with the
//! kubelet's options (follow, previous, tailLines, sinceSeconds/sinceTime, timestamps,
//! limitBytes). Reads only; the stream ends when the container stops or the client goes away.

use super::AppState;
use super::connection::ConnectionWatch;
use super::containers::{self, Choice, Purpose};
use super::error::ApiError;
use super::params::Query;
use super::target::Target;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use jiff::Timestamp;

/// `PodLogOptions`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub tail_lines: Option<u64>,
    /// Lines logged before this are left out (from `sinceSeconds` or `sinceTime`).
    pub since: Option<Timestamp>,
    pub limit_bytes: Option<u64>,
}

impl LogOptions {
    /// Parse and validate as kube-apiserver does; `now` anchors `sinceSeconds`.
    pub fn parse(query: &Query, pod: &str, now: Timestamp) -> Result<Self, ApiError> {
        let integer = |key: &str| -> Result<Option<i64>, ApiError> {
            query
                .get(key)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse::<i64>().map_err(|_| {
                        ApiError::bad_request(format!(
                            "invalid value for {key}: {v:?} (expected an integer)"
                        ))
                    })
                })
                .transpose()
        };
        let invalid = |field: &str, value: i64, why: &str| {
            ApiError::invalid_option(
                "PodLogOptions",
                pod,
                field,
                "FieldValueInvalid",
                &format!("Invalid value: {value}: {why}"),
            )
        };
        let tail_lines = integer("tailLines")?;
        if let Some(n) = tail_lines.filter(|n| *n < 0) {
            return Err(invalid(
                "tailLines",
                n,
                "must be greater than or equal to 0",
            ));
        }
        let limit_bytes = integer("limitBytes")?;
        if let Some(n) = limit_bytes.filter(|n| *n < 1) {
            return Err(invalid("limitBytes", n, "must be greater than 0"));
        }
        let since_seconds = integer("sinceSeconds")?;
        if let Some(n) = since_seconds.filter(|n| *n < 1) {
            return Err(invalid("sinceSeconds", n, "must be greater than 0"));
        }
        let since_time = query
            .get("sinceTime")
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<Timestamp>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value for sinceTime: {v:?} (expected an RFC 3339 time)"
                    ))
                })
            })
            .transpose()?;
        let since = match (since_seconds, since_time) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_option(
                    "PodLogOptions",
                    pod,
                    "",
                    "FieldValueForbidden",
                    "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
                ));
            }
            (Some(seconds), None) => Some(
                now.checked_sub(jiff::SignedDuration::from_secs(seconds))
                    .unwrap_or(Timestamp::MIN),
            ),
            (None, time) => time,
        };
        Ok(LogOptions {
            container: query.get("container").map(str::to_string),
            follow: query.flag("follow")?,
            previous: query.flag("previous")?,
            timestamps: query.flag("timestamps")?,
            tail_lines: tail_lines.map(|n| n as u64),
            since,
            limit_bytes: limit_bytes.map(|n| n as u64),
        })
    }
}

/// What to do with one line from Docker.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Send(Bytes),
    Skip,
    /// Send this, then end: `limitBytes` is reached.
    SendLast(Bytes),
}

/// Turns Docker's timestamped lines into the lines the client asked for: lines before `since`
/// dropped, the timestamp kept only with `timestamps=true`, cut at `limitBytes`.
#[derive(Debug)]
pub struct LineFilter {
    since: Option<Timestamp>,
    timestamps: bool,
    remaining: Option<u64>,
}

impl LineFilter {
    pub fn new(options: &LogOptions) -> Self {
        LineFilter {
            since: options.since,
            timestamps: options.timestamps,
            remaining: options.limit_bytes,
        }
    }

    /// `line` is as Docker sends it with `timestamps=true`: `<RFC 3339 nano> <text>`.
    pub fn line(&mut self, line: Bytes) -> Step {
        if self.remaining == Some(0) {
            return Step::Skip;
        }
        let (stamp, text) = match line.iter().position(|b| *b == b' ') {
            Some(space) => (
                std::str::from_utf8(&line[..space])
                    .ok()
                    .and_then(|s| s.parse::<Timestamp>().ok()),
                line.slice(space + 1..),
            ),
            None => (None, line.clone()),
        };
        if let (Some(since), Some(stamp)) = (self.since, stamp)
            && stamp < since
        {
            return Step::Skip;
        }
        let out = if self.timestamps && stamp.is_some() {
            line
        } else {
            text
        };
        match self.remaining.as_mut() {
            None => Step::Send(out),
            Some(remaining) if (out.len() as u64) < *remaining => {
                *remaining -= out.len() as u64;
                Step::Send(out)
            }
            Some(remaining) => {
                let cut = out.slice(..*remaining as usize);
                *remaining = 0;
                Step::SendLast(cut)
            }
        }
    }
}

pub async fn serve(
    req: &actix_web::HttpRequest,
    state: &AppState,
    target: &Target,
    query: &Query,
) -> Result<actix_web::HttpResponse, ApiError> {
    state.docker.check_allowed()?;
    let name = target.name.as_deref().unwrap_or("");
    let namespace = target.namespace.as_deref().unwrap_or("");
    let options = LogOptions::parse(query, name, Timestamp::now())?;
    let found = containers::find(
        &state.store,
        &state.docker,
        namespace,
        name,
        options.container.as_deref(),
        Purpose::Logs {
            previous: options.previous,
        },
    )
    .await?;
    let response = || {
        let mut response = actix_web::HttpResponse::Ok();
        response.content_type("text/plain");
        response
    };
    let instance = match found.choice {
        Choice::Instance(instance) => instance,
        Choice::Unscheduled => return Ok(response().finish()),
    };
    let docker = state.docker.get().await?.clone();
    let mut docker_options = LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .follow(options.follow)
        .timestamps(true);
    if let Some(n) = options.tail_lines {
        docker_options = docker_options.tail(&n.to_string());
    }
    if let Some(since) = options.since {
        // Docker takes whole seconds; `LineFilter` drops the rest of that second.
        docker_options = docker_options.since(since.as_second().clamp(0, i32::MAX as i64) as i32);
    }
    let lines = docker.logs(&instance.id, Some(docker_options.build()));
    let filter = LineFilter::new(&options);
    let body = stream::unfold(
        (Box::pin(lines), filter, false),
        |(mut lines, mut filter, done)| async move {
            if done {
                return None;
            }
            loop {
                let line = match lines.next().await? {
                    Ok(LogOutput::StdOut { message })
                    | Ok(LogOutput::StdErr { message })
                    | Ok(LogOutput::Console { message }) => message,
                    Ok(LogOutput::StdIn { .. }) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "container log stream failed");
                        return None;
                    }
                };
                match filter.line(line) {
                    Step::Skip => continue,
                    Step::Send(bytes) => {
                        return Some((Ok::<_, std::io::Error>(bytes), (lines, filter, false)));
                    }
                    Step::SendLast(bytes) => return Some((Ok(bytes), (lines, filter, true))),
                }
            }
        },
    );
    // Ends a follow that has nothing to send when its client leaves.
    let body = body.take_until(super::connection::client_gone(ConnectionWatch::of(req)));
    Ok(response().streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<LogOptions, ApiError> {
        let now: Timestamp = "2025-01-01T00:10:00Z".parse().unwrap();
        LogOptions::parse(&Query::parse(query).unwrap(), "web", now)
    }

    #[test]
    fn options_parse_as_kubectl_sends_them() {
        assert_eq!(parse("").unwrap(), LogOptions::default());
        let all = parse(
            "container=app&follow=true&previous=true&timestamps=true&tailLines=10&limitBytes=100&sinceSeconds=300",
        )
        .unwrap();
        assert_eq!(
            all,
            LogOptions {
                container: Some("app".into()),
                follow: true,
                previous: true,
                timestamps: true,
                tail_lines: Some(10),
                since: Some("2025-01-01T00:05:00Z".parse().unwrap()),
                limit_bytes: Some(100),
            }
        );
        assert_eq!(
            parse("sinceTime=2025-01-01T00%3A00%3A00Z").unwrap().since,
            Some("2025-01-01T00:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn bad_options_are_refused() {
        let cases = [
            (
                "tailLines=x",
                400,
                "invalid value for tailLines: \"x\" (expected an integer)",
            ),
            (
                "follow=maybe",
                400,
                "invalid value for follow: \"maybe\" (expected true or false)",
            ),
            (
                "sinceTime=yesterday",
                400,
                "invalid value for sinceTime: \"yesterday\" (expected an RFC 3339 time)",
            ),
            (
                "tailLines=-1",
                422,
                "PodLogOptions \"web\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                "limitBytes=0",
                422,
                "PodLogOptions \"web\" is invalid: limitBytes: Invalid value: 0: must be greater than 0",
            ),
            (
                "sinceSeconds=0",
                422,
                "PodLogOptions \"web\" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0",
            ),
            (
                "sinceSeconds=5&sinceTime=2025-01-01T00%3A00%3A00Z",
                422,
                "PodLogOptions \"web\" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
            ),
        ];
        for (query, code, message) in cases {
            let e = parse(query).expect_err(query);
            assert_eq!(
                (e.code(), e.to_string().as_str()),
                (code, message),
                "{query}"
            );
        }
    }

    fn line(text: &str) -> Bytes {
        Bytes::from(text.to_string())
    }

    #[test]
    fn lines_lose_their_timestamp_unless_asked() {
        let mut plain = LineFilter::new(&LogOptions::default());
        assert_eq!(
            plain.line(line("2025-01-01T00:00:01.000000001Z hello\n")),
            Step::Send(line("hello\n"))
        );
        let mut stamped = LineFilter::new(&LogOptions {
            timestamps: true,
            ..LogOptions::default()
        });
        assert_eq!(
            stamped.line(line("2025-01-01T00:00:01.000000001Z hello\n")),
            Step::Send(line("2025-01-01T00:00:01.000000001Z hello\n"))
        );
    }

    #[test]
    fn since_is_exact_to_the_nanosecond() {
        let mut filter = LineFilter::new(&LogOptions {
            since: Some("2025-01-01T00:00:01.5Z".parse().unwrap()),
            ..LogOptions::default()
        });
        assert_eq!(
            filter.line(line("2025-01-01T00:00:01.499999999Z early\n")),
            Step::Skip
        );
        assert_eq!(
            filter.line(line("2025-01-01T00:00:01.500000000Z on time\n")),
            Step::Send(line("on time\n"))
        );
    }

    #[test]
    fn limit_bytes_cuts_the_stream() {
        let mut filter = LineFilter::new(&LogOptions {
            limit_bytes: Some(8),
            ..LogOptions::default()
        });
        assert_eq!(
            filter.line(line("2025-01-01T00:00:01Z abc\n")),
            Step::Send(line("abc\n"))
        );
        assert_eq!(
            filter.line(line("2025-01-01T00:00:02Z defgh\n")),
            Step::SendLast(line("defg"))
        );
        assert_eq!(filter.line(line("2025-01-01T00:00:03Z more\n")), Step::Skip);
    }
}
