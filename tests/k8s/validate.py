#!/usr/bin/env python3
"""Offline check of docker/k8s/ (no cluster here): every manifest parses, and the names, ports,
paths and the secret reference agree with each other and with what pmixd and the image expect.
Each check prints ok/FAIL; the exit status is the number of failures (capped at 1)."""
import re
import sys

import yaml

k8s, dockerfile = sys.argv[1], sys.argv[2]
failures = 0


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what)
    failures += 0 if cond else 1


docs = {}
for name in ("secret.yaml", "nodes.yaml", "launcher.yaml"):
    with open(f"{k8s}/{name}") as f:
        for d in yaml.safe_load_all(f):
            check(isinstance(d, dict) and "kind" in d and "metadata" in d,
                  f"{name}: a {d.get('kind') if isinstance(d, dict) else d!r} document")
            docs[(d["kind"], d["metadata"]["name"])] = d

svc = docs.get(("Service", "fmx-nodes"))
sts = docs.get(("StatefulSet", "fmx-node"))
job = docs.get(("Job", "fmx-launch"))
cm = docs.get(("ConfigMap", "fmx-hostfile"))
sec = docs.get(("Secret", "fmx-secret"))
for what, d in (("Service fmx-nodes", svc), ("StatefulSet fmx-node", sts),
                ("Job fmx-launch", job), ("ConfigMap fmx-hostfile", cm), ("Secret fmx-secret", sec)):
    check(d is not None, f"{what} is defined")
if failures:
    sys.exit(1)


def opt(args, flag):
    return args[args.index(flag) + 1] if flag in args else None


# the nodes: headless service, selector and service name agree
check(svc["spec"].get("clusterIP") == "None", "the Service is headless (names for each pod)")
labels = sts["spec"]["template"]["metadata"]["labels"]
check(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()),
      "the Service selects the StatefulSet's pods")
check(sts["spec"]["selector"]["matchLabels"] == {k: labels[k] for k in sts["spec"]["selector"]["matchLabels"]},
      "the StatefulSet's selector matches its pod labels")
check(sts["spec"]["serviceName"] == svc["metadata"]["name"], "the StatefulSet names the Service")

pod = sts["spec"]["template"]["spec"]
pmixd = next(c for c in pod["containers"] if c["command"][0] == "pmixd")
listen = opt(pmixd["command"], "--listen")
check(listen is not None and listen.isdigit(), f"pmixd --listen {listen}")
ports = {p["name"]: p["containerPort"] for p in pmixd.get("ports", [])}
svc_port = svc["spec"]["ports"][0]
check(str(ports.get(svc_port["targetPort"])) == listen == str(svc_port["port"]),
      f"container port, Service port and --listen agree ({listen})")


def secret_path_ok(spec, container, what):
    """The container's --secret-file lies in a volume that an init container filled from the
    Secret with mode 600 for uid 1000, and the container runs as that uid."""
    args = container["command"]
    path = opt(args, "--secret-file")
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    vol = next((n for m, n in mounts.items() if path and path.startswith(m + "/")), None)
    check(vol is not None, f"{what}: --secret-file {path} is on a mounted volume")
    init = next((c for c in spec.get("initContainers", [])
                 if any(m["name"] == vol for m in c["volumeMounts"])), None)
    check(init is not None and init["command"][:7] == ["install", "-m", "600", "-o", "1000", "-g", "1000"]
          and init["command"][-1] == path,
          f"{what}: an init container puts the secret at {path}, mode 600, owner 1000")
    vols = {v["name"]: v for v in spec["volumes"]}
    src_mount = next(m for m in init["volumeMounts"] if m["name"] != vol)
    src = vols[src_mount["name"]].get("secret", {})
    check(src.get("secretName") == sec["metadata"]["name"], f"{what}: the secret comes from Secret {src.get('secretName')}")
    key = init["command"][-2].rsplit("/", 1)[-1]
    check(init["command"][-2] == src_mount["mountPath"] + "/" + key and key in sec["stringData"],
          f"{what}: the Secret has the key {key} that is copied")
    check(src.get("defaultMode") == 0o400, f"{what}: the Secret volume is mode 0400")
    ctx = container.get("securityContext", {})
    check(ctx.get("runAsUser") == 1000 and ctx.get("runAsNonRoot") is True,
          f"{what}: runs as uid 1000, not root")


secret_path_ok(pod, pmixd, "pmixd")
jpod = job["spec"]["template"]["spec"]
run = next(c for c in jpod["containers"] if c["command"][0] == "pmixrun")
check(opt(run["command"], "--connect") == listen, f"pmixrun --connect {listen}, the port pmixd serves")
secret_path_ok(jpod, run, "pmixrun")

# the hostfile names every pod of the StatefulSet through the Service
hostfile = opt(run["command"], "--hostfile")
mount = next(m for m in run["volumeMounts"] if hostfile.startswith(m["mountPath"] + "/"))
vol = next(v for v in jpod["volumes"] if v["name"] == mount["name"])
check(vol.get("configMap", {}).get("name") == cm["metadata"]["name"], "the hostfile comes from the ConfigMap")
lines = [l for l in cm["data"][hostfile.rsplit("/", 1)[-1]].splitlines() if l.strip()]
want = [f"{sts['metadata']['name']}-{i}.{svc['metadata']['name']}" for i in range(sts["spec"]["replicas"])]
check([l.split()[0] for l in lines] == want, f"the hostfile lists {', '.join(want)}")
check(all(re.fullmatch(r"\S+ slots=\d+", l) for l in lines), "every hostfile line is 'host slots=N'")

# the image the manifests name: its user is uid 1000 and pmixd, pmixrun, mpi_allreduce are on PATH
with open(dockerfile) as f:
    df = f.read()
check("--uid 1000" in df and re.search(r"^USER mpi$", df, re.M) is not None, "the image's user is uid 1000")
check("/usr/local/libexec/fmx" in df and "mpi_allreduce" in df, "the image has mpi_allreduce on PATH")
sys.exit(1 if failures else 0)
