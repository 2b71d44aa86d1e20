import Mustache

/// The pages, as Mustache templates compiled into the binary (one file to install). `{{ }}` escapes
/// HTML; `{{{ }}}` is used only for HTML this module rendered itself.
enum Templates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in [("layout", layout), ("overview", overview), ("instance", instance), ("instance-live", instanceLive)] {
            do { try library.register(text, named: name) } catch { fatalError("template \(name) does not parse: \(error)") }
        }
        return library
    }()

    static func render(_ view: Any, _ name: String) -> String {
        library.render(view, withTemplate: name) ?? ""
    }

    static let layout = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="color-scheme" content="light dark">
    <title>{{title}} · Flotilla</title>
    <link rel="stylesheet" href="/assets/dashboard.css">
    <script src="/assets/dashboard.js" defer></script>
    </head>
    <body data-feed="{{version}}">
    <a class="skip" href="#main">Skip to content</a>
    <header><a href="/" class="brand">Flotilla</a> <span class="who">as {{user}} on {{cluster}}</span> <span id="live-state" class="live" role="status" aria-live="polite">connecting…</span>{{#signedIn}}<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="sign-out">Sign out</button></form>{{/signedIn}}</header>
    <main id="main">
    {{{body}}}
    </main>
    </body>
    </html>
    """#

    static let overview = #"""
    <h1>FluxInstances</h1>
    {{#error}}<p class="notice error" role="alert">{{error}}</p>{{/error}}
    <nav aria-label="States" class="counts">
    <a href="{{allLink}}"{{^state}} aria-current="true"{{/state}}>All <b>{{found}}</b></a>
    {{#counts}}<a class="state {{stateClass}}" href="{{link}}"{{#current}} aria-current="true"{{/current}}>{{state}} <b data-count="{{state}}">{{count}}</b></a>{{/counts}}
    </nav>
    <form method="get" action="/" class="filters" role="search">
    <label>Search <input type="search" name="q" value="{{search}}" placeholder="namespace/name, URL or reason"></label>
    <label>State <select name="state"><option value="">all</option>{{#stateOptions}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/stateOptions}}</select></label>
    <label>Sort <select name="sort">{{#sortOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/sortOptions}}</select></label>
    <button type="submit">Show</button>
    </form>
    <p class="summary">{{matching}} of {{total}} instance(s); page {{page}} of {{pages}}.</p>
    <table class="instances">
    <caption class="visually-hidden">FluxInstances, page {{page}}</caption>
    <thead><tr><th scope="col">Instance</th><th scope="col">State</th><th scope="col">Revision</th><th scope="col">Behind</th><th scope="col">Last sync</th><th scope="col">Health</th><th scope="col">Drift</th><th scope="col">Message</th></tr></thead>
    <tbody>
    {{#rows}}<tr id="row-{{namespace}}/{{name}}" data-key="{{key}}">
    <th scope="row"><a href="/instances/{{namespace}}/{{name}}">{{namespace}}/{{name}}</a></th>
    <td><span class="state {{stateClass}}" data-field="state">{{state}}</span></td>
    <td data-field="revision"><code>{{revision}}</code></td>
    <td data-field="behind">{{behind}}</td>
    <td data-field="lastSync"><time>{{lastSync}}</time></td>
    <td data-field="health">{{health}}</td>
    <td data-field="drift">{{drift}}</td>
    <td data-field="message" class="message">{{message}}</td>
    </tr>{{/rows}}
    {{^rows}}<tr><td colspan="8">No FluxInstance matches.</td></tr>{{/rows}}
    </tbody>
    </table>
    <nav aria-label="Pages" class="pages">{{#previous}}<a href="{{previous}}" rel="prev">← Previous</a>{{/previous}} {{#next}}<a href="{{next}}" rel="next">Next →</a>{{/next}}</nav>
    """#

    static let instance = #"""
    <p><a href="/">← All instances</a></p>
    <h1>{{namespace}}/{{name}}</h1>
    {{#notice}}<p class="notice{{#noticeIsError}} error{{/noticeIsError}}" role="{{#noticeIsError}}alert{{/noticeIsError}}{{^noticeIsError}}status{{/noticeIsError}}">{{notice}}</p>{{/notice}}
    <section aria-labelledby="actions-h" class="actions">
    <h2 id="actions-h">Actions</h2>
    <form method="post" action="/instances/{{namespace}}/{{name}}/sync"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="sync-now">Sync now</button></form>
    {{#suspended}}<form method="post" action="/instances/{{namespace}}/{{name}}/resume"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="resume">Resume</button></form>{{/suspended}}
    {{^suspended}}<form method="post" action="/instances/{{namespace}}/{{name}}/suspend"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="suspend">Suspend</button></form>{{/suspended}}
    </section>
    <section aria-labelledby="workload-h" class="actions">
    <h2 id="workload-h">A workload</h2>
    <form method="post" action="/instances/{{namespace}}/{{name}}/lock" id="policy-form"><input type="hidden" name="csrf" value="{{csrf}}">
    <label>Workload <input name="workload" list="workload-ids" placeholder="namespace:kind/name" required></label>
    <button type="submit" id="lock">Lock</button>
    <button type="submit" id="unlock" formaction="/instances/{{namespace}}/{{name}}/unlock">Unlock</button></form>
    <form method="post" action="/instances/{{namespace}}/{{name}}/release" id="release-form"><input type="hidden" name="csrf" value="{{csrf}}">
    <label>Workload <input name="workload" list="workload-ids" placeholder="namespace:kind/name" required></label>
    <label>Image <input name="image" placeholder="registry/repo:tag" required></label>
    <button type="submit" id="release">Release</button></form>
    <datalist id="workload-ids">{{#workloadIDs}}<option value="{{.}}">{{/workloadIDs}}</datalist>
    </section>
    <div id="live" data-instance="{{namespace}}/{{name}}">
    {{{live}}}
    </div>
    """#

    static let instanceLive = #"""
    <section aria-labelledby="summary-h">
    <h2 id="summary-h">State <span class="state {{stateClass}}" id="instance-state">{{state}}</span></h2>
    <p id="instance-message">{{message}}</p>
    <dl class="facts">
    <dt>Source</dt><dd>{{source}}{{#branch}} · branch <code>{{branch}}</code>{{/branch}}{{#paths}} · <code>{{.}}</code>{{/paths}}</dd>
    <dt>Applied revision</dt><dd><code id="applied-revision">{{revision}}</code></dd>
    <dt>Head</dt><dd><code>{{head}}</code>{{#behindText}} ({{.}}){{/behindText}}</dd>
    <dt>Last sync</dt><dd><time>{{lastSync}}</time></dd>
    <dt>Objects</dt><dd>{{counts}}</dd>
    <dt>Acts as</dt><dd>{{identity}}</dd>
    </dl>
    </section>
    {{#hasPendingDeletions}}<section aria-labelledby="prune-h" class="held">
    <h2 id="prune-h">Deletions held</h2>
    <ul>{{#pendingDeletions}}<li><code>{{.}}</code></li>{{/pendingDeletions}}</ul>
    <form method="post" action="/instances/{{namespace}}/{{name}}/approve-prune"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="revision" value="{{pruneRevision}}"><button type="submit" id="approve-prune">Approve deleting these at {{pruneRevisionShort}}</button></form>
    </section>{{/hasPendingDeletions}}
    <section aria-labelledby="conditions-h">
    <h2 id="conditions-h">Conditions</h2>
    <table><thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Since</th></tr></thead>
    <tbody>{{#conditions}}<tr><th scope="row">{{type}}</th><td>{{status}}</td><td>{{reason}}</td><td class="message">{{message}}</td><td><time>{{time}}</time></td></tr>{{/conditions}}</tbody></table>
    </section>
    <section aria-labelledby="syncs-h" id="syncs">
    <h2 id="syncs-h">Recent syncs</h2>
    {{^syncs}}<p>None recorded yet.</p>{{/syncs}}
    <table><thead><tr><th scope="col">Revision</th><th scope="col">Commit</th><th scope="col">Author</th><th scope="col">When</th><th scope="col">Applied</th><th scope="col">Unchanged</th><th scope="col">Pruned</th><th scope="col">Failed</th></tr></thead>
    <tbody>{{#syncs}}<tr data-revision="{{revision}}"><th scope="row"><code>{{short}}</code></th><td class="message">{{subject}}</td><td>{{author}}</td><td><time>{{time}}</time></td><td>{{applied}}</td><td>{{unchanged}}</td><td>{{pruned}}</td><td>{{failed}}</td></tr>{{/syncs}}</tbody></table>
    </section>
    <section aria-labelledby="inventory-h" id="inventory">
    <h2 id="inventory-h">Inventory: {{inventoryTotal}} object(s)</h2>
    {{#inventoryError}}<p class="notice error">{{inventoryError}}</p>{{/inventoryError}}
    {{#inventory}}<details{{#open}} open{{/open}} data-namespace="{{name}}"><summary><b>{{name}}</b> · {{count}} object(s){{#problemsText}} · <span class="failing">{{.}}</span>{{/problemsText}}</summary>
    <ul class="tree">{{#kinds}}<li>{{kind}} ({{count}})<ul>{{#objects}}<li data-object="{{name}}"><code>{{name}}</code>{{#health}} <span class="failing">{{.}}</span>{{/health}}{{#drift}} <span class="progressing">drift: {{.}}</span>{{/drift}}</li>{{/objects}}</ul></li>{{/kinds}}</ul>
    </details>{{/inventory}}
    </section>
    <section aria-labelledby="health-h">
    <h2 id="health-h">Health: {{health}}</h2>
    {{#hasUnhealthy}}<table><thead><tr><th scope="col">Object</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th></tr></thead>
    <tbody>{{#unhealthy}}<tr><th scope="row"><code>{{.object}}</code></th><td>{{.status}}</td><td>{{.reason}}</td><td class="message">{{.message}}</td></tr>{{/unhealthy}}</tbody></table>{{/hasUnhealthy}}
    {{^unhealthy}}<p>Every applied object is healthy, or none is being watched.</p>{{/unhealthy}}
    </section>
    <section aria-labelledby="drift-h">
    <h2 id="drift-h">Drift: {{driftCount}} object(s)</h2>
    {{#hasDrifted}}<ul>{{#drifted}}<li><code>{{object}}</code>: {{drift}}{{#corrected}} (corrected){{/corrected}}</li>{{/drifted}}</ul>{{/hasDrifted}}
    </section>
    <section aria-labelledby="images-h">
    <h2 id="images-h">Images</h2>
    <p>Last scan <time>{{lastScan}}</time>; {{scanned}} repository(ies) scanned.{{#imagesError}} <span class="error">{{imagesError}}</span>{{/imagesError}}</p>
    {{#hasWorkloads}}<table><thead><tr><th scope="col">Workload</th><th scope="col">Container</th><th scope="col">Running</th><th scope="col">Latest</th></tr></thead>
    <tbody>{{#workloads}}<tr><th scope="row"><code>{{.workload}}</code></th><td>{{.container}}</td><td><code>{{.current}}</code></td><td><code>{{.latest}}</code>{{#.error}} <span class="error">{{.}}</span>{{/.error}}</td></tr>{{/workloads}}</tbody></table>{{/hasWorkloads}}
    </section>
    <section aria-labelledby="requests-h">
    <h2 id="requests-h">Requests</h2>
    {{#hasRequests}}<table><thead><tr><th scope="col">Request</th><th scope="col">State</th><th scope="col">Answer</th></tr></thead>
    <tbody>{{#requests}}<tr><th scope="row"><code>{{id}}</code></th><td>{{state}}</td><td class="message">{{message}}</td></tr>{{/requests}}</tbody></table>{{/hasRequests}}
    {{^requests}}<p>No recent requests.</p>{{/requests}}
    </section>
    <section aria-labelledby="events-h">
    <h2 id="events-h">Events</h2>
    {{#eventsError}}<p class="notice error">{{eventsError}}</p>{{/eventsError}}
    <table><thead><tr><th scope="col">Last seen</th><th scope="col">Type</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Count</th></tr></thead>
    <tbody>{{#events}}<tr><td><time>{{time}}</time></td><td>{{type}}</td><td>{{reason}}</td><td class="message">{{message}}</td><td>{{count}}</td></tr>{{/events}}</tbody></table>
    </section>
    """#
}
