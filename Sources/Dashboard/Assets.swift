/// The stylesheet (light and dark, from the system's preference) and the script that keeps a page
/// live: one EventSource per page, rows updated in place, an instance's page refreshed in part.
enum Assets {
    static let css = #"""
    :root { color-scheme: light dark; --bg: #fff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --link: #0969da; }
    @media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --fg: #e6edf3; --muted: #8d96a0; --line: #30363d; --ok: #3fb950; --bad: #f85149; --warn: #d29922; --link: #4493f8; } }
    body { margin: 0; font: 15px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
    header { display: flex; gap: 1rem; align-items: baseline; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
    .brand { font-weight: 700; font-size: 1.1rem; } .who, .summary { color: var(--muted); } .live { margin-left: auto; color: var(--muted); font-size: .85rem; }
    main { padding: 1rem 1.2rem; max-width: 90rem; }
    a { color: var(--link); } code { font-size: .9em; }
    table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
    th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    thead th { color: var(--muted); font-weight: 600; font-size: .85rem; }
    .message { max-width: 40rem; overflow-wrap: anywhere; }
    .state { font-weight: 600; } .ready { color: var(--ok); } .failing { color: var(--bad); } .progressing, .unknown { color: var(--warn); } .suspended { color: var(--muted); }
    .counts { display: flex; flex-wrap: wrap; gap: .8rem; margin: .5rem 0; } .counts a[aria-current] { text-decoration: none; border-bottom: 2px solid currentColor; }
    .filters { display: flex; flex-wrap: wrap; gap: .8rem; align-items: end; margin: .5rem 0; }
    input, select, button { font: inherit; padding: .25rem .45rem; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
    button { cursor: pointer; } .actions { display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; } .actions h2 { margin-right: 1rem; }
    .actions form { display: inline; } .notice { padding: .5rem .8rem; border: 1px solid var(--line); border-radius: 4px; } .error { color: var(--bad); border-color: var(--bad); }
    dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; } dt { color: var(--muted); }
    .held { border-left: 3px solid var(--warn); padding-left: .8rem; } tr.changed { transition: background 1s; background: color-mix(in srgb, var(--link) 15%, transparent); }
    ul.tree { margin: .3rem 0 .8rem; } ul.tree ul { margin: .1rem 0 .3rem; } details { margin: .3rem 0; }
    .skip, .visually-hidden { position: absolute; left: -9999px; } .skip:focus { left: 1rem; top: .5rem; background: var(--bg); }
    """#

    static let js = #"""
    "use strict";
    (() => {
      const status = document.getElementById("live-state");
      const source = new EventSource("/events?since=" + encodeURIComponent(document.body.dataset.feed || ""));
      source.addEventListener("reset", () => location.reload());
      source.addEventListener("open", () => { status.textContent = "live"; });
      source.addEventListener("error", () => { status.textContent = "reconnecting…"; });
      let refreshing = null;
      // An instance's page refreshes on anything about it; the overview updates the row it shows.
      source.addEventListener("touched", (event) => {
        const row = JSON.parse(event.data);
        const detail = document.getElementById("live");
        if (detail && detail.dataset.instance === row.namespace + "/" + row.name) { refresh(detail); }
      });
      source.addEventListener("instance", (event) => {
        const row = JSON.parse(event.data);
        const tr = document.querySelector('tr[data-key="' + CSS.escape(row.namespace + "/" + row.name) + '"]');
        if (tr) {
          for (const cell of tr.querySelectorAll("[data-field]")) {
            const field = cell.dataset.field;
            const value = row[field] === undefined ? "" : String(row[field]);
            const target = cell.querySelector("code, time, span") || cell;
            target.textContent = value;
            if (field === "state") { cell.className = "state " + value.toLowerCase(); }
          }
          tr.classList.add("changed");
          setTimeout(() => tr.classList.remove("changed"), 1200);
        }
        const detail = document.getElementById("live");
        if (detail && detail.dataset.instance === row.namespace + "/" + row.name) { refresh(detail); }
      });
      // One refresh at a time; a change that arrives meanwhile is fetched right after it.
      let again = false;
      function refresh(detail) {
        if (refreshing) { again = true; return; }
        refreshing = fetch(location.pathname + "?fragment=1", { headers: { "Accept": "text/html" } })
          .then((r) => r.ok ? r.text() : Promise.reject(r.status))
          .then((html) => { detail.innerHTML = html; })
          .catch(() => {})
          .finally(() => {
            refreshing = null;
            if (again) { again = false; refresh(detail); }
          });
      }
    })();
    """#
}
