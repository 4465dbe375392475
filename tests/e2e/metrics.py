"""T3 checks of the metrics KubeVirt users scrape: the guest's series served
by its launcher pod (through the apiserver's pod proxy, as a Prometheus in
the cluster reaches the pod's address), which move when the guest computes
and writes to its disk; the scrape annotations; and vireo-controller's
kubevirt_vmi_phase_count. Prints the scrape's size and time.
guest_test.py calls these on the test disk's guest it boots."""
import time

from e2e_test import NS, RELEASE_NS, check, timings

METRICS_PORT = 39100  # lib/api/launcher_pod.h kMetricsPort
MOUNT_BOOT = ("mkdir -p /mnt/boot && { grep -q ' /mnt/boot ' /proc/mounts || "
              "mount -t vfat -o sync $(findfs LABEL=VIREOBOOT) /mnt/boot; }")


def _scrape(c, ns, pod, port):
    p = c.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/metrics")
    return p.stdout if p.returncode == 0 else "error: " + p.stderr


def _value(text, family, *labels):
    """The first series of `family` whose labels hold every one of `labels`, or None."""
    for line in text.splitlines():
        if line.startswith(family + "{") and all(l in line for l in labels):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


def metrics_checks(c, name, con):
    pods = c.items("pods", selector=f"vm.kubevirt.io/name={name}")
    if not check("metrics: the VM's launcher pod", pods, ""):
        return
    pod = pods[0]
    annotations = pod["metadata"].get("annotations", {})
    check("metrics: the launcher pod carries prometheus.io scrape annotations",
          annotations.get("prometheus.io/scrape") == "true"
          and annotations.get("prometheus.io/port") == str(METRICS_PORT), str(annotations))
    podname = pod["metadata"]["name"]
    who = f'name="{name}",namespace="{NS}",node="{pod["spec"].get("nodeName", "")}"'
    before = _scrape(c, NS, podname, METRICS_PORT)
    check("metrics: the launcher pod serves KubeVirt's series with name, namespace and node",
          f"kubevirt_vmi_vcpu_seconds_total{{{who}" in before, before[-800:])
    cpu = _value(before, "kubevirt_vmi_vcpu_seconds_total", who, 'id="0"')
    written = _value(before, "kubevirt_vmi_storage_write_traffic_bytes_total", who, 'drive="containerdisk"')
    received = _value(before, "kubevirt_vmi_network_receive_bytes_total", who, 'interface="default"')
    check("metrics: vCPU seconds, disk bytes written (drive named as the VMI names it), network bytes",
          cpu is not None and written is not None and received is not None,
          f"cpu={cpu} written={written} received={received}\n" + before[-800:])
    # 1 MiB written by the guest to its root disk, then synced.
    con.send(MOUNT_BOOT + " && dd if=/dev/urandom of=/mnt/boot/metrics.bin bs=65536 count=16 2>/dev/null"
             " && sync && echo VIREO-METRICS-$((40+2))\n")
    wrote = con.expect(r"VIREO-METRICS-42", 120)
    check("metrics: the guest wrote 1 MiB to its disk", wrote, con.output()[-400:])
    after = _scrape(c, NS, podname, METRICS_PORT)
    cpu2 = _value(after, "kubevirt_vmi_vcpu_seconds_total", who, 'id="0"')
    written2 = _value(after, "kubevirt_vmi_storage_write_traffic_bytes_total", who, 'drive="containerdisk"')
    check("metrics: vCPU seconds grew", cpu is not None and cpu2 is not None and cpu2 > cpu, f"{cpu} -> {cpu2}")
    check("metrics: bytes written grew by the guest's 1 MiB or more",
          written is not None and written2 is not None and written2 >= written + (1 << 20),
          f"{written} -> {written2}")
    # What a scrape costs: its size, and its time through the apiserver's proxy.
    n = 10
    t0 = time.monotonic()
    sizes = [len(_scrape(c, NS, podname, METRICS_PORT).encode()) for _ in range(n)]
    took = (time.monotonic() - t0) / n
    series = sum(1 for l in after.splitlines() if l and not l.startswith("#"))
    print(f"measure metrics: one VM's scrape: {sizes[-1]} bytes, {series} series; "
          f"{took * 1000:.0f} ms through the apiserver's pod proxy (kubectl get --raw, mean of {n})",
          flush=True)
    # vireo-controller: KubeVirt's VMI counts.
    ctrl = c.items("pods", ns=RELEASE_NS, selector="app.kubernetes.io/component=controller")
    text = _scrape(c, RELEASE_NS, ctrl[0]["metadata"]["name"], 8080) if ctrl else ""
    running = _value(text, "kubevirt_vmi_phase_count", 'phase="running"')
    check("metrics: vireo-controller counts the running VMIs (kubevirt_vmi_phase_count)",
          running is not None and running >= 1,
          "\n".join(l for l in text.splitlines() if "kubevirt_vmi_phase_count" in l)[-600:] or text[-400:])
