// The KPI page's charts (no build step; ECharts vendored in static/vendor/echarts/). The data is the page's own:
// a JSON island (#kpi-data, rendered with Jinja's |tojson, so it cannot close the script element) with the series
// reporting.web.trends.series built from the same figures GET /v1/kpis answers. Drawn again whenever htmx swaps the
// fragment in (a period chosen, or `huying:changed` from the live-update stream).
(function () {
  "use strict";
  if (!window.echarts) return;

  function draw() {
    const island = document.getElementById("kpi-data");
    if (!island) return;
    const data = JSON.parse(island.textContent);
    const chart = data.chart;
    const rates = document.getElementById("chart-rates");
    const volume = document.getElementById("chart-volume");
    const axis = { type: "category", data: chart.labels, boundaryGap: false };
    const line = (name, values) => ({ name, type: "line", data: values, connectNulls: false, showSymbol: true });

    const a = echarts.getInstanceByDom(rates) || echarts.init(rates, null, { renderer: "svg" });
    a.setOption({
      animation: false, // drawn at once: a swap redraws it, and a screenshot or a print shows the data
      title: { text: data.words.rates, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v == null ? "—" : v + " %") },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 48, right: 24, top: 40, bottom: 64 },
      xAxis: axis,
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value} %" } },
      series: (chart.order || Object.keys(chart.rates)).map((k) => line(data.names[k] || k, chart.rates[k])),
    }, true);

    const b = echarts.getInstanceByDom(volume) || echarts.init(volume, null, { renderer: "svg" });
    b.setOption({
      animation: false,
      title: { text: data.words.volume, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 48, right: 56, top: 40, bottom: 48 },
      xAxis: { type: "category", data: chart.labels },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", name: data.words.mttr, position: "right" }],
      series: [
        { name: data.words.tickets, type: "bar", data: chart.tickets },
        { name: data.words.breaches, type: "bar", data: chart.breaches },
        { name: data.words.mttr, type: "line", yAxisIndex: 1, data: chart.mttr_minutes },
      ],
    }, true);
    document.body.dataset.kpiCharts = "drawn";
  }

  draw();
  const dispose = () => document.querySelectorAll(".chart").forEach((el) => {
    const c = echarts.getInstanceByDom(el); if (c) c.dispose();
  });
  document.body.addEventListener("htmx:beforeSwap", (e) => { if (e.target && e.target.id === "kpis") dispose(); });
  document.body.addEventListener("htmx:afterSwap", (e) => { if (e.target && e.target.id === "kpis") draw(); });
  window.addEventListener("resize", () => {
    document.querySelectorAll(".chart").forEach((el) => { const c = echarts.getInstanceByDom(el); if (c) c.resize(); });
  });
})();
