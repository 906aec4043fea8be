//! `/proc/PID/cgroup`: the cgroup paths of a process and the container they name.

use procfs_core::FromBufRead;
use serde::Serialize;

/// The container a process runs in, as its cgroup paths name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerRef {
    /// The full 64-hex-digit container id.
    pub id: String,
    /// `docker`, `containerd`, `cri-o`, `podman` or `kubepods` (a kubelet cgroup without a
    /// runtime prefix, as the cgroupfs driver writes it).
    pub runtime: &'static str,
    /// The Kubernetes pod uid, from a `pod<uid>` path segment, dashes restored.
    pub pod_uid: Option<String>,
}

impl ContainerRef {
    /// The first 12 hex digits, as `docker ps` shows ids.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

/// The cgroup paths, one per hierarchy line, and notes on lines that did not parse.
pub fn parse(content: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut paths = Vec::new();
    let mut notes = Vec::new();
    // Line by line, so one malformed line loses only itself. Paths may hold any bytes;
    // container ids are hex, so a lossy conversion loses nothing the detection needs.
    for (n, line) in content.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        match procfs_core::ProcessCGroups::from_buf_read(text.as_bytes()) {
            Ok(groups) => paths.extend(groups.0.into_iter().map(|g| g.pathname)),
            Err(e) => notes.push(format!("cgroup line {}: {e}", n + 1)),
        }
    }
    (paths, notes)
}

/// The container named by the first path that names one.
pub fn container_of(paths: &[String]) -> Option<ContainerRef> {
    paths.iter().find_map(|p| container_in_path(p))
}

/// Recognises the runtimes' path shapes:
/// `/docker/<id>`, `/system.slice/docker-<id>.scope`, `cri-containerd-<id>.scope`,
/// `...:cri-containerd:<id>`, `crio-<id>.scope`, `libpod-<id>.scope`, and
/// `/kubepods/<qos>/pod<uid>/<id>`.
fn container_in_path(path: &str) -> Option<ContainerRef> {
    let segments: Vec<&str> = path.split('/').collect();
    let pod_uid = segments.iter().find_map(|s| pod_uid_in(s));
    let in_kubepods = path.contains("kubepods");
    for (i, seg) in segments.iter().enumerate() {
        let seg = seg.strip_suffix(".scope").unwrap_or(seg);
        let found = if is_container_id(seg) && i > 0 && segments[i - 1] == "docker" {
            Some((seg, "docker"))
        } else if let Some(id) = seg.rsplit_once(":cri-containerd:").map(|(_, id)| id) {
            Some((id, "containerd"))
        } else {
            [
                ("docker-", "docker"),
                ("cri-containerd-", "containerd"),
                ("crio-", "cri-o"),
                ("libpod-", "podman"),
            ]
            .iter()
            .find_map(|(prefix, rt)| seg.strip_prefix(prefix).map(|id| (id, *rt)))
            .or_else(|| (in_kubepods && is_container_id(seg)).then_some((seg, "kubepods")))
        };
        if let Some((id, runtime)) = found.filter(|(id, _)| is_container_id(id)) {
            return Some(ContainerRef {
                id: id.to_ascii_lowercase(),
                runtime,
                pod_uid,
            });
        }
    }
    None
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `pod<uid>` (cgroupfs driver, dashes) or `kubepods-besteffort-pod<uid>.slice` (systemd
/// driver, where the uid's dashes became underscores).
fn pod_uid_in(segment: &str) -> Option<String> {
    // containerd's systemd form appends `:cri-containerd:<id>` to the pod's slice.
    let seg = segment.split(':').next().unwrap_or(segment);
    let seg = seg.strip_suffix(".slice").unwrap_or(seg);
    let start = seg.rfind("pod")? + 3;
    let uid = seg[start..].replace('_', "-");
    let is_uuid = uid.len() == 36
        && uid.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        });
    is_uuid.then_some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e8a1b2c9d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";

    fn one(path: &str) -> Option<ContainerRef> {
        container_of(&[path.to_string()])
    }

    #[test]
    fn each_runtime_shape_is_recognised() {
        for (path, runtime) in [
            (format!("/docker/{ID}"), "docker"),
            (format!("/system.slice/docker-{ID}.scope"), "docker"),
            (format!("/system.slice/containerd.service/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice:cri-containerd:{ID}"), "containerd"),
            (format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-{ID}.scope"), "containerd"),
            (format!("/kubepods.slice/kubepods-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/crio-{ID}.scope"), "cri-o"),
            (format!("/machine.slice/libpod-{ID}.scope/container"), "podman"),
            (format!("/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/{ID}"), "kubepods"),
        ] {
            let c = one(&path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!(c.id, ID, "{path}");
            assert_eq!(c.runtime, runtime, "{path}");
            assert_eq!(c.short_id(), "3f4e8a1b2c9d");
            if path.contains("pod0f1e") {
                assert_eq!(c.pod_uid.as_deref(), Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"), "{path}");
            }
        }
    }

    #[test]
    fn host_and_near_miss_paths_name_no_container() {
        for path in [
            "/user.slice/user-1000.slice/session-3.scope",
            "/init.scope",
            "/system.slice/docker.service",
            &format!("/system.slice/crio-conmon-{ID}.scope"),
            &format!("/docker/{}", &ID[..63]),
            &format!("/srv/{ID}"),
        ] {
            assert_eq!(one(path), None, "{path}");
        }
    }

    #[test]
    fn lines_parse_one_by_one() {
        let mut content = format!("12:pids:/docker/{ID}\ngarbage\n").into_bytes();
        content.extend_from_slice(b"0::/\xff/x\n");
        let (paths, notes) = parse(&content);
        assert_eq!(paths.len(), 2);
        assert_eq!(notes.len(), 1);
        assert_eq!(container_of(&paths).unwrap().runtime, "docker");
    }
}
