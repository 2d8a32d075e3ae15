// The Data lake's dashboard widget: a React component for Airflow's dashboard (a plugin `react_apps`
// entry). Airflow's UI provides React as globalThis.React and loads this module; the component it finds in
// globalThis.AirflowPlugin is rendered with the UI's own React, so it needs no build step. Colours come
// from the UI's Chakra variables, so it follows light and dark.
const React = globalThis.React;
const h = React.createElement;
const SUMMARY = new URL("../api/v1/summary", import.meta.url).href;
const PAGES = new URL("../ui/", import.meta.url).href;
const STATES = ["committed", "processing", "processed", "failed"];

const box = {
  border: "1px solid var(--chakra-colors-border, #e4e4e7)",
  borderRadius: "8px",
  padding: "12px 16px",
  color: "var(--chakra-colors-fg, inherit)",
};
const row = { display: "flex", flexWrap: "wrap", gap: "24px", marginTop: "8px" };
const muted = { color: "var(--chakra-colors-fg-muted, #71717a)", fontSize: "12px" };
const big = { fontSize: "22px", fontWeight: 600, fontVariantNumeric: "tabular-nums" };

function Stat(props) {
  return h("a", { href: props.href, target: "_top", style: { color: "inherit", textDecoration: "none" }, "data-stat": props.name },
    h("div", { style: muted }, props.label),
    h("div", { style: { ...big, color: props.color || "inherit" } }, String(props.value)));
}

function DatalakeWidget() {
  const [data, setData] = React.useState(null);
  const [error, setError] = React.useState(null);
  React.useEffect(() => {
    let stop = false;
    const load = () =>
      fetch(SUMMARY, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
        .then((d) => { if (!stop) { setData(d); setError(null); } })
        .catch((e) => { if (!stop) setError(e.message); });
    load();
    const timer = setInterval(load, 30000);
    return () => { stop = true; clearInterval(timer); };
  }, []);
  const title = h("div", { style: { display: "flex", justifyContent: "space-between" } },
    h("strong", null, "Data lake"),
    h("a", { href: "/plugin/datalake", target: "_top", style: { color: "var(--chakra-colors-fg-info, #0369a1)" } }, "Open →"));
  if (error) return h("section", { style: box, id: "datalake-widget" }, title, h("div", { style: muted }, `Unavailable: ${error}`));
  if (!data) return h("section", { style: box, id: "datalake-widget" }, title, h("div", { style: muted }, "Loading…"));
  const by = data.by_status || {};
  const stats = STATES.map((s) => h(Stat, { key: s, name: s, label: s, value: by[s] || 0, href: `${PAGES}?status=${s}` }));
  const waitedSince = data.oldest_waiting ? `oldest waiting since ${data.oldest_waiting.since.slice(0, 19).replace("T", " ")} UTC` : "nothing waiting";
  const ratio = data.rows_in_24h ? ((100 * data.rows_quarantined_24h) / data.rows_in_24h).toFixed(2) : "0.00";
  return h("section", { style: box, id: "datalake-widget" },
    title,
    h("div", { style: row }, ...stats),
    h("div", { style: row },
      h(Stat, { name: "failed_24h", label: "failed, last 24 h", value: data.failed_24h, color: data.failed_24h ? "var(--chakra-colors-fg-error, #dc2626)" : undefined, href: `${PAGES}?status=failed` }),
      h(Stat, { name: "quarantined_24h", label: "rows quarantined, last 24 h", value: `${data.rows_quarantined_24h} (${ratio} %)`, href: PAGES })),
    h("div", { style: { ...muted, marginTop: "8px" } }, `${data.waiting} object(s) waiting; ${waitedSince}`));
}

globalThis.AirflowPlugin = DatalakeWidget;
