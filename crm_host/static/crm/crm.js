// htmx requests carry the CSRF token the page was rendered with.
document.addEventListener("htmx:configRequest", function (evt) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { evt.detail.headers["X-CSRFToken"] = meta.content; }
});

// Charts: any element with data-chart holds an ECharts option (see crm_host.ui.chart).
function crmInitCharts(root) {
  if (typeof echarts === "undefined") { return; }
  (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
    if (el.dataset.chartReady) { return; }
    el.dataset.chartReady = "1";
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(JSON.parse(el.dataset.chart));
    window.addEventListener("resize", function () { chart.resize(); });
  });
}
document.addEventListener("DOMContentLoaded", function () { crmInitCharts(document); });
document.addEventListener("htmx:afterSwap", function (evt) { crmInitCharts(evt.target); });

// The browser's time zone goes with the sign-in form: a user who never chose one reads
// times in it (crm_host/timezones.py).
document.addEventListener("DOMContentLoaded", function () {
  var tz = document.querySelector("input[name=tz]");
  if (tz && window.Intl) { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; }
});
