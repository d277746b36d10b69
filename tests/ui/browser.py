"""The timeline UI in a real browser: headless Chromium driven by selenium.

Run by tests/e2e/ui.rs (`ui::the_page_in_a_real_browser`), which starts `kubetrail serve` with
simulated nodes, applies the ReplicaSet echo-rs, deletes one of its pods with kubectl, waits for
the replacement and passes what it knows as arguments. This script logs in through the link
`kubetrail ui` printed and checks, from what the page shows:

1. the timeline shows a new event within 1 s of a kubectl write (it runs the write itself);
2. the replacement pod's object page draws its why chain, naming the kubectl deletion;
3. the time slider shows, at a past resourceVersion, the pod that no longer exists now.

Screenshots go to --artifacts. It exits 0 when every check holds, 1 (saying which failed)
otherwise.
"""

import argparse
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--login-url", required=True)
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--kubectl", required=True)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--replicaset", default="echo-rs")
    parser.add_argument("--deleted", required=True, help="the pod deleted with kubectl")
    parser.add_argument("--replacement", required=True, help="the pod created in its place")
    parser.add_argument("--past-rv", required=True, help="a resourceVersion when --deleted existed")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument(
        "--chromedriver", default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    )
    return parser.parse_args()


def browser(args):
    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in [
        "--headless=new",
        "--no-sandbox",  # the tests run as root
        "--disable-dev-shm-usage",
        "--ignore-certificate-errors",  # the server's CA is kubetrail's own
        "--window-size=1500,1000",
        "--force-device-scale-factor=1",
    ]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=options)


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)
    print(f"ok: {message}", flush=True)


def wait_for(driver, what, predicate, timeout=15):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: predicate(d))
    except Exception as error:
        raise Failed(f"timed out waiting for {what}") from error


def shot(driver, args, name):
    path = os.path.join(args.artifacts, name)
    driver.save_screenshot(path)
    print(f"screenshot: {path}", flush=True)


def marks(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#timeline .mark")


def log_in(driver, args):
    driver.get(args.login_url)
    wait_for(driver, "the timeline after the login", lambda d: len(marks(d)) > 0)
    check("code=" not in driver.current_url, "the address bar keeps no login code")
    check(driver.current_url.split("#")[0].endswith("/ui/"), "the login lands on /ui/")
    cookie = driver.get_cookie("kubetrail-ui")
    check(cookie is not None and cookie.get("httpOnly"), "the session cookie is HttpOnly")
    check(cookie.get("sameSite") == "Strict", "the session cookie is SameSite=Strict")
    check(
        "kubetrail-ui" not in driver.execute_script("return document.cookie"),
        "the page's script cannot read the session",
    )


def new_event_within_a_second(driver, args):
    wait_for(
        driver,
        "the timeline to follow the log",
        lambda d: d.find_element(By.ID, "status").text == "live",
    )
    before = max(int(m.get_attribute("data-rv")) for m in marks(driver))
    shot(driver, args, "timeline-before.png")
    written = subprocess.run(
        [args.kubectl, "label", "replicaset", args.replicaset, "-n", args.namespace,
         "ui-check=written", "--overwrite"],
        env={**os.environ, "KUBECONFIG": args.kubeconfig},
        capture_output=True,
        text=True,
    )
    started = time.monotonic()
    check(written.returncode == 0, f"kubectl label succeeded ({written.stderr.strip()})")

    def the_new_mark(d):
        for mark in marks(d):
            if (
                int(mark.get_attribute("data-rv")) > before
                and mark.get_attribute("data-name") == args.replicaset
                and mark.get_attribute("data-type") == "Updated"
            ):
                return mark
        return None

    mark = wait_for(driver, "the new event on the timeline", the_new_mark, timeout=5)
    elapsed = time.monotonic() - started
    check(elapsed <= 1.0, f"the new event showed {elapsed:.3f} s after kubectl returned")
    check(
        f"ReplicaSet {args.replicaset} Updated" in mark.text,
        f"the mark reads like a sentence: {mark.text!r}",
    )
    lane = mark.find_element(By.XPATH, "./ancestor::div[contains(@class,'row')]")
    check(lane is not None, "the mark sits in its row")
    shot(driver, args, "timeline.png")


def the_healed_pod_s_chain(driver, args):
    link = None
    for mark in marks(driver):
        if mark.get_attribute("data-name") == args.replacement and mark.get_attribute(
            "data-type"
        ) == "Created":
            link = mark
    if link is not None:
        driver.execute_script("arguments[0].scrollIntoView({block:'center'})", link)
        link.click()
    else:
        driver.get(driver.current_url.split("#")[0] + f"#/object/Pod/{args.namespace}/{args.replacement}")
    graph = wait_for(
        driver,
        "the why graph of the replacement pod",
        lambda d: d.find_elements(By.CSS_SELECTOR, "#why-graph .node"),
    )
    nodes = driver.find_elements(By.CSS_SELECTOR, "#why-graph .node")
    described = [
        (n.get_attribute("data-actor"), n.get_attribute("data-type"), n.get_attribute("data-name"))
        for n in nodes
    ]
    print(f"why graph: {described}", flush=True)
    check(
        any(t == "Created" and name == args.replacement and actor == "replicaset-controller"
            for actor, t, name in described),
        "the graph shows the ReplicaSet controller creating the replacement",
    )
    check(
        any(t == "DeletionRequested" and name == args.deleted and not actor.startswith("kubelet/")
            and actor not in ("replicaset-controller", "default-scheduler")
            for actor, t, name in described),
        f"the graph names the kubectl deletion of {args.deleted}",
    )
    check(
        any(actor.startswith("kubelet/") for actor, _, _ in described),
        "the graph reaches a kubelet",
    )
    check(bool(graph), "the graph is drawn")
    history = driver.find_elements(By.CSS_SELECTOR, "#history li[data-type]")
    check(len(history) >= 3, f"the history lists the pod's events ({len(history)})")
    check(
        not any(d.get_attribute("open") for d in driver.find_elements(By.CSS_SELECTOR, "details.json")),
        "no JSON unless asked",
    )
    shot(driver, args, "object.png")


def the_slider_shows_the_past(driver, args):
    base = driver.current_url.split("#")[0]
    driver.get(f"{base}#/at/{args.namespace}/{args.past_rv}")
    wait_for(
        driver,
        "the pods at the past resourceVersion",
        lambda d: d.find_elements(By.CSS_SELECTOR, f"#at-result[data-rv='{args.past_rv}']"),
    )
    rows = driver.find_elements(By.CSS_SELECTOR, "#pods-at tbody tr")
    past = {r.get_attribute("data-name"): r for r in rows}
    check(args.deleted in past, f"the slider shows {args.deleted} at resourceVersion {args.past_rv}")
    check("gone now" in past[args.deleted].text, f"{args.deleted} is marked gone now")
    check(args.replacement not in past, f"{args.replacement} did not exist yet")
    slider = driver.find_element(By.ID, "rv")
    check(slider.get_attribute("value") == str(args.past_rv), "the slider stands at that moment")
    shot(driver, args, "slider.png")


def main():
    args = parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    driver = browser(args)
    try:
        log_in(driver, args)
        new_event_within_a_second(driver, args)
        the_healed_pod_s_chain(driver, args)
        the_slider_shows_the_past(driver, args)
    except Failed as failure:
        shot(driver, args, "failure.png")
        print(f"FAILED: {failure}", flush=True)
        return 1
    finally:
        driver.quit()
    print("all browser checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
