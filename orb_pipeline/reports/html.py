"""A :class:`~orb_pipeline.reports.content.ReportContent` as one self-contained HTML page.

Charts are plotly's (its JavaScript is inlined, about 4.8 MB), so the page loads nothing from the
internet when it is opened: no CDN, no fonts, no images from elsewhere. Sections: the verdict,
the leaderboard, equity against the underlying with drawdowns (the walk-forward's out-of-sample
sessions shaded), the walk-forward's stitched out-of-sample equity and folds, an explorable
parameter heatmap (any two parameters, the others fixed, any metric), the trade list of a chosen
backtest, and the bootstrap percentiles. Numbers are shown with results/display.py's labels and
rounding.
"""

from __future__ import annotations

import datetime as dt
import html
import json

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from orb_pipeline import engine
from orb_pipeline.reports.content import GRID_METRICS, ReportContent
from orb_pipeline.results import display

LEADERBOARD_COLUMNS = (*display.HEADLINE_COLUMNS, "average_holding_period", "parameters")
FOLD_COLUMNS = (
    "fold", "train_start", "train_end", "test_start", "test_end", "stop_distance",
    "limit_distance", "stop_count_limit", "stop_cooloff_period", "test_total_profit",
    "test_win_rate_percent", "generalization_gap", "promotion_ready",
)  # fmt: skip
BOOTSTRAP_COLUMNS = (
    "rank", "profit_p5", "profit_p50", "profit_p95", "drawdown_p50", "drawdown_p95",
)  # fmt: skip


def _json(value) -> str:
    """JSON safe inside a ``<script>`` element."""
    return json.dumps(value, default=str, allow_nan=False).replace("</", "<\\/")


def _clean(value):
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def html_table(rows: list[dict], columns, table_id: str = "") -> str:
    """An HTML table of ``columns`` of ``rows``: labels as headers (descriptions as tooltips),
    values as results/display.py shows them, escaped."""
    present = [name for name in columns if rows and name in rows[0]]
    head = "".join(
        f'<th title="{html.escape(display.COLUMNS[n].description if n in display.COLUMNS else "")}">'
        f"{html.escape(display.label(n))}</th>"
        for n in present
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(display.text(n, row.get(n)))}</td>" for n in present)
        + "</tr>"
        for row in rows
    )
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def equity_figure(content: ReportContent) -> go.Figure:
    """Cumulative net of the distinct top backtests and the underlying's % move (right axis)
    above their drawdowns; the walk-forward's test sessions shaded as out of sample."""
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05,
        specs=[[{"secondary_y": True}], [{}]],
    )  # fmt: skip
    from orb_pipeline.results.plots import drawdown

    for label, equity in content.curves.items():
        figure.add_trace(
            go.Scatter(x=content.sessions, y=equity, name=label, mode="lines",
                       legendgroup=label, hovertemplate="%{x}: %{y:.2f} $/sh"),
            row=1, col=1,
        )  # fmt: skip
        figure.add_trace(
            go.Scatter(x=content.sessions, y=list(drawdown(equity)), name=label, mode="lines",
                       legendgroup=label, showlegend=False, fill="tozeroy",
                       hovertemplate="%{x}: drawdown %{y:.2f} $/sh"),
            row=2, col=1,
        )  # fmt: skip
    figure.add_trace(
        go.Scatter(x=content.sessions, y=content.underlying_percent, mode="lines",
                   name="underlying, % from the window's first price (right axis)",
                   line={"color": "grey", "dash": "dash"}, hovertemplate="%{x}: %{y:.2f} %"),
        row=1, col=1, secondary_y=True,
    )  # fmt: skip
    if content.oos_equity:
        figure.add_vrect(
            x0=content.oos_equity[0]["session_date"], x1=content.sessions[-1],
            fillcolor="royalblue", opacity=0.08, line_width=0,
            annotation_text="walk-forward test sessions (out of sample)",
            annotation_position="top left",
        )  # fmt: skip
    figure.update_yaxes(title_text="cumulative net ($ per share)", row=1, col=1)
    figure.update_yaxes(
        title_text="underlying (%)", tickformat=".1f", ticksuffix=" %", row=1, col=1,
        secondary_y=True,
    )  # fmt: skip
    figure.update_yaxes(title_text="drawdown ($ per share)", row=2, col=1)
    figure.update_layout(
        height=620, margin={"l": 60, "r": 60, "t": 30, "b": 40}, hovermode="x unified",
        legend={"orientation": "h", "y": -0.12}, template="plotly_white",
    )  # fmt: skip
    return figure


def oos_figure(content: ReportContent) -> go.Figure:
    """The walk-forward's stitched out-of-sample equity against the full-window winner's over the
    same sessions, a dotted line where each fold's test starts."""
    rows = content.oos_equity
    dates = [row["session_date"] for row in rows]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=[r["oos_equity"] for r in rows],
            mode="lines",
            name="walk-forward picks, out of sample (stitched)",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=[r["in_sample_equity"] for r in rows],
            mode="lines",
            name="full-window winner (picked with hindsight)",
            line={"color": "grey"},
        )
    )
    for index, row in enumerate(rows):
        if index and row["fold"] != rows[index - 1]["fold"]:
            figure.add_vline(x=row["session_date"], line_dash="dot", line_color="orange")
    figure.update_layout(
        height=380, margin={"l": 60, "r": 20, "t": 20, "b": 40}, template="plotly_white",
        yaxis_title="cumulative net over test sessions ($ per share)",
        legend={"orientation": "h", "y": -0.2}, hovermode="x unified",
    )  # fmt: skip
    return figure


STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1280px; padding: 16px 24px;
       color: #1d2230; }
h1 { margin-bottom: 0; } h2 { margin-top: 36px; border-bottom: 1px solid #ddd; }
.meta { color: #666; font-size: 13px; }
.verdict { padding: 12px 16px; border-radius: 6px; border-left: 6px solid #999; background: #f4f4f4; }
.verdict.bad { border-color: #c0392b; background: #fdecea; }
.verdict.good { border-color: #1e8449; background: #eafaf1; }
.verdict pre { white-space: pre-wrap; font-size: 13px; margin: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 4px 8px; text-align: right; }
th { background: #f7f7f9; cursor: help; } td:last-child, th:last-child { text-align: left; }
.controls label { margin-right: 14px; font-size: 13px; } .note { color: #555; font-size: 13px; }
.scroll { max-height: 480px; overflow: auto; }
"""

SCRIPT = """
const D = JSON.parse(document.getElementById('report-data').textContent);
const CONFIG = {responsive: true, displaylogo: false};
Plotly.newPlot('equity-chart', D.equity.data, D.equity.layout, CONFIG);
if (D.oos) Plotly.newPlot('oos-chart', D.oos.data, D.oos.layout, CONFIG);

const PARAMS = D.parameters, G = D.grid, best = D.leaderboard[0];
const RED_YELLOW_GREEN = [[0, '#a50026'], [0.25, '#f46d43'], [0.5, '#ffffbf'], [0.75, '#66bd63'],
  [1, '#006837']];  // matplotlib's RdYlGn, as the PNG heatmap
const uniq = (name) => [...new Set(G[name])].sort((a, b) => a - b);
const sel = (id) => document.getElementById(id);
function option(select, value, text, chosen) {
  const o = document.createElement('option'); o.value = value; o.textContent = text;
  o.selected = chosen; select.appendChild(o);
}
PARAMS.forEach((p) => {
  option(sel('hx'), p, D.labels[p], p === 'limit_distance');
  option(sel('hy'), p, D.labels[p], p === 'stop_distance');
  const label = document.createElement('label');
  label.innerHTML = D.labels[p] + ' <select id="fix-' + p + '"></select>';
  sel('fixed').appendChild(label);
  uniq(p).forEach((v) => option(sel('fix-' + p), v, String(v), v === best[p]));
});
D.metrics.forEach((m) => option(sel('hm'), m, D.labels[m], m === 'sharpe'));

function renderHeatmap() {
  const x = sel('hx').value, y = sel('hy').value, m = sel('hm').value;
  PARAMS.forEach((p) => { sel('fix-' + p).disabled = (p === x || p === y); });
  const xs = uniq(x), ys = uniq(y);
  const z = ys.map(() => xs.map(() => null));
  const fixed = PARAMS.filter((p) => p !== x && p !== y)
    .map((p) => [p, Number(sel('fix-' + p).value)]);
  const n = G[x].length;
  for (let i = 0; i < n; i++) {
    if (fixed.every(([p, v]) => G[p][i] === v)) {
      z[ys.indexOf(G[y][i])][xs.indexOf(G[x][i])] = G[m][i];
    }
  }
  const trace = {type: 'heatmap', x: xs.map(String), y: ys.map(String), z: z,
    colorscale: RED_YELLOW_GREEN, reversescale: m === 'max_drawdown',
    colorbar: {title: {text: D.labels[m]}},
    hovertemplate: D.labels[x] + ' %{x}<br>' + D.labels[y] + ' %{y}<br>' + D.labels[m]
      + ' %{z:.2f}<extra></extra>'};
  if (m === 'sharpe' || m === 'backtest_profit') trace.zmid = 0;
  const traces = [trace];
  if (fixed.every(([p, v]) => best[p] === v)) {
    traces.push({type: 'scatter', mode: 'markers', x: [String(best[x])], y: [String(best[y])],
      marker: {symbol: 'circle-open', size: 18, color: 'black', line: {width: 3}},
      name: 'leaderboard #1', hoverinfo: 'name'});
  }
  Plotly.react('heatmap-chart', traces, {height: 560, template: 'plotly_white',
    margin: {l: 70, r: 20, t: 20, b: 60}, showlegend: false,
    xaxis: {title: {text: D.labels[x]}, type: 'category'},
    yaxis: {title: {text: D.labels[y]}, type: 'category'}}, CONFIG);
}
['hx', 'hy', 'hm'].concat(PARAMS.map((p) => 'fix-' + p))
  .forEach((id) => sel(id).addEventListener('change', renderHeatmap));
renderHeatmap();

const nyTime = (seconds) => new Date(seconds * 1000).toLocaleTimeString('en-GB',
  {timeZone: 'America/New_York', hour12: false});
function duration(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + String(s % 60).padStart(2, '0') + ' s';
  return Math.floor(s / 3600) + ' h ' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + ' min';
}
D.leaderboard.forEach((row) => option(sel('trade-pick'), row.backtest_id,
  '#' + row.rank + ' ' + row.parameters, row.rank === 1));
function renderTrades() {
  const trades = D.trades[sel('trade-pick').value] || [];
  const body = trades.map((t) => '<tr><td>' + (t.trade_index + 1) + '</td><td>' + t.session_date
    + '</td><td>' + t.side + '</td><td>' + nyTime(t.entry_utc) + '</td><td>'
    + t.entry_price.toFixed(2) + '</td><td>' + nyTime(t.exit_utc) + '</td><td>'
    + t.exit_price.toFixed(2) + '</td><td>' + t.exit_reason + '</td><td>'
    + t.profit.toFixed(2) + '</td><td>' + duration(t.holding_seconds) + '</td></tr>').join('');
  sel('trade-table').querySelector('tbody').innerHTML = body;
  const wins = trades.filter((t) => t.profit > 0).length;
  sel('trade-summary').textContent = trades.length + ' trades, ' + wins + ' winning ('
    + (trades.length ? (100 * wins / trades.length).toFixed(1) : '0.0') + ' %), total '
    + trades.reduce((a, t) => a + t.profit, 0).toFixed(2) + ' $/sh';
}
sel('trade-pick').addEventListener('change', renderTrades);
renderTrades();
document.body.dataset.rendered = 'yes';
"""


def render(content: ReportContent, generated: dt.datetime | None = None) -> str:
    """The report page (UTF-8 text). ``generated`` defaults to now (UTC)."""
    generated = generated or dt.datetime.now(dt.UTC).replace(microsecond=0)
    span = f"{content.ticker} {content.window_start}..{content.window_end}"
    labels = {name: display.label(name) for name in (*engine.GRID_COLUMNS, *GRID_METRICS)}
    data = _clean(
        {
            "equity": json.loads(equity_figure(content).to_json()),
            "oos": json.loads(oos_figure(content).to_json()) if content.oos_equity else None,
            "grid": content.grid,
            "parameters": list(engine.GRID_COLUMNS),
            "metrics": list(GRID_METRICS),
            "labels": labels,
            "leaderboard": [
                {k: row[k] for k in ("rank", "backtest_id", "parameters", *engine.GRID_COLUMNS)}
                for row in content.leaderboard
            ],
            "trades": content.trades,
        }
    )
    state = {True: "good", False: "bad", None: "unknown"}[content.holds_up]
    walk_forward = (
        '<div id="oos-chart" class="chart"></div>' + html_table(content.folds, FOLD_COLUMNS)
        if content.oos_equity
        else "<p>Walk-forward validation has not run for this window.</p>"
    )
    bootstrap = (
        html_table(content.bootstrap, BOOTSTRAP_COLUMNS)
        if content.bootstrap
        else "<p>The bootstrap has not run for this window.</p>"
    )
    trade_head = "".join(
        f"<th>{h}</th>"
        for h in ("trade", "session", "side", "entry (New York)", "entry $", "exit (New York)",
                  "exit $", "exit reason", "profit $/sh", "holding")
    )  # fmt: skip
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>ORB research report: {html.escape(span)}</title>
<style>{STYLE}</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>{html.escape(span)}</h1>
<p class="meta">Opening-range-breakout research report. Engine {html.escape(content.engine_version)},
data version {html.escape(content.data_version[:16])}, generated {generated.isoformat()}.
Money is dollars per share; times are New York.</p>
<section id="verdict" class="verdict {state}"><h2>Does the winner hold up?</h2>
<pre>{html.escape(content.verdict)}</pre></section>
<section id="leaderboard"><h2>Top backtests (in sample, as the leaderboard ranks them)</h2>
{html_table(content.leaderboard, LEADERBOARD_COLUMNS)}</section>
<section id="equity"><h2>Equity against the underlying, and drawdowns</h2>
<p class="note">{html.escape(content.curve_note)}. Shaded: the sessions the walk-forward tested
out of sample; everything else here was used to choose these parameters.</p>
<div id="equity-chart" class="chart"></div></section>
<section id="walk-forward"><h2>Out of sample: walk-forward</h2>{walk_forward}</section>
<section id="heatmap"><h2>Parameter heatmap</h2>
<div class="controls"><label>x <select id="hx"></select></label>
<label>y <select id="hy"></select></label><label>colour <select id="hm"></select></label></div>
<div class="controls" id="fixed">other parameters fixed at: </div>
<div id="heatmap-chart" class="chart"></div>
<p class="note">{html.escape(content.grid_note)}; ringed: the leaderboard's #1 (shown when the
fixed parameters are its own).</p></section>
<section id="trades"><h2>Trades of a chosen backtest</h2>
<label>backtest <select id="trade-pick"></select></label> <span id="trade-summary" class="note"></span>
<div class="scroll"><table id="trade-table"><thead><tr>{trade_head}</tr></thead><tbody></tbody>
</table></div></section>
<section id="bootstrap"><h2>Bootstrap of the top backtests</h2>{bootstrap}</section>
<script type="application/json" id="report-data">{_json(data)}</script>
<script>{SCRIPT}</script>
</body></html>
"""
