"""Where a request's instructions go: inclusive callgrind costs of frontend-server's parts,
per request, from the profiles `bench.py --profiles DIR` keeps.

    python3 bench/frontend/breakdown.py DIR [REQUESTS]      (REQUESTS: 2000, as bench.py)

Each row is the inclusive cost of the named functions (callgrind_annotate --inclusive=yes),
divided by the number of requests; rows may nest (a part's callees are in its figure), and
"rest" is the total minus the top-level rows. Async functions inlined into their callers
have no symbol of their own: they are counted in the nearest row that has one.
"""

import glob
import os
import re
import subprocess
import sys

# (label, regular expression on the function name, parent label or None). Top-level rows
# (parent None) do not overlap; a row with a parent is part of it.
PARTS = [
    ("socket read and connection wrapper (head deadline, request framing)",
     r"^tokio_util::util::poll_buf::poll_read_buf$", None),
    ("– of which the wrapper's request framing", r"^service_kit::connection::GuardedIo<T>::admit$",
     "socket read and connection wrapper (head deadline, request framing)"),
    ("request head parsing (actix-http)",
     r"^<actix_http::h1::codec::Codec as tokio_util::codec::decoder::Decoder>::decode$", None),
    ("application: middleware, routing, handler",
     r"^<actix_service::map_err::MapErrFuture<A,Req,F,E> as core::future::future::Future>::poll$", None),
    ("access-log line (facts, request id, line, queueing)",
     r"^service_kit::access_log::(RequestFacts::capture|RequestFacts::emit|request_id)$",
     "application: middleware, routing, handler"),
    ("request limits", r"^service_kit::limits::Limits::check$",
     "application: middleware, routing, handler"),
    ("metrics (histogram update; the label lookup is inlined in the middleware)",
     r"^prometheus_client::metrics::histogram::Histogram::observe_and_bucket$",
     "application: middleware, routing, handler"),
    ("actix-web request object and routing",
     r"^<actix_web::app_service::(AppInitService<T,B>|AppRouting) as actix_service::Service<",
     "application: middleware, routing, handler"),
    ("handler (extractors, dispatch, site or proxy)",
     r"^actix_web::handler::handler_service::\{\{closure\}\}::\{\{closure\}\}$",
     "application: middleware, routing, handler"),
    ("site: path cache lookup", r"^frontend_server::clock_cache::ClockCache<V>::get$",
     "handler (extractors, dispatch, site or proxy)"),
    ("site: site-change check (inotify generation)",
     r"^frontend_server::site_watch::SiteWatch::generation$",
     "handler (extractors, dispatch, site or proxy)"),
    ("site: answer building (representation, conditionals, header values)",
     r"^frontend_server::file_response::answer$",
     "handler (extractors, dispatch, site or proxy)"),
    ("proxy: forwarding headers", r"^frontend_server::proxy::request_headers$",
     "handler (extractors, dispatch, site or proxy)"),
    ("proxy: response head and headers relayed", r"^frontend_server::proxy::relay_response$",
     "handler (extractors, dispatch, site or proxy)"),
    ("proxy: reqwest request (URL to URI, redirect and retry layers, pool checkout)",
     r"^reqwest::async_impl::client::Client::execute_request$|^<reqwest::async_impl::client::Pending as core::future::future::Future>::poll$",
     "handler (extractors, dispatch, site or proxy)"),
    ("proxy: upstream URL parsed", r"^url::Url::parse$",
     "handler (extractors, dispatch, site or proxy)"),
    ("proxy: upstream connection task (request written, response read and parsed)",
     r"^<hyper::client::conn::http1::Connection<T,B> as core::future::future::Future>::poll$", None),
    ("proxy: response body relayed",
     r"^<frontend_server::upstream::ResponseBody as actix_http::body::message_body::MessageBody>::poll_next$",
     None),
    ("response head encoding (actix-http)",
     r"^<actix_http::h1::codec::Codec as tokio_util::codec::encoder::Encoder<actix_http::h1::Message<\(actix_http::responses::response::Response", None),
    ("socket write (and a body the connection sends itself)",
     r"^actix_http::h1::dispatcher::InnerDispatcher<T,S,B,X,U>::poll_flush$", None),
]


def inclusive(profile):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([\s\d.]+%\)\s+\S*?:(.+?)(?: \[.*\])?$", line)
        if m:
            name = m.group(2).strip()
            # Recursive entries ('2) repeat their first entry's cost.
            if re.search(r"'\d+$", name):
                continue
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
        m = re.match(r"\s*([\d,]+)\s+\([\s\d.]+%\)\s+PROGRAM TOTALS", line)
        if m:
            costs["TOTAL"] = int(m.group(1).replace(",", ""))
    return costs


def breakdown(profiles, requests):
    costs = {}
    for p in profiles:
        for k, v in inclusive(p).items():
            costs[k] = costs.get(k, 0) + v
    rows = []
    for label, pattern, parent in PARTS:
        total = sum(v for k, v in costs.items() if re.search(pattern, k))
        rows.append((label, parent, total / requests))
    top = sum(v for _, parent, v in rows if parent is None)
    total = costs.get("TOTAL", 0) / requests
    return rows, total, total - top


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    directory = argv[0]
    requests = int(argv[1]) if len(argv) > 1 else 2000
    names = sorted({os.path.basename(p).split(".")[0]
                    for p in glob.glob(os.path.join(directory, "frontend-server-*"))})
    for name in names:
        rows, total, rest = breakdown(glob.glob(os.path.join(directory, name + ".*")), requests)
        print(f"\n{name}: {total:,.0f} instructions per request\n")
        print("| part | instructions per request |")
        print("|---|---:|")
        for label, parent, value in rows:
            if value < 1:
                continue
            indent = "– " if parent and parent != "application: middleware, routing, handler" \
                else ""
            if label.startswith("– "):
                indent, label = "– ", label[2:]
            elif parent == "handler (extractors, dispatch, site or proxy)":
                indent = "– – "
            elif parent:
                indent = "– "
            print(f"| {indent}{label} | {value:,.0f} |")
        print(f"| rest (event loop, dispatcher, timers, allocator) | {rest:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
