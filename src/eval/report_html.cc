// report.html: one self-contained page (inline CSS, inline vanilla script, inline SVG plots drawn here).
// Every string from the JSON goes through Esc(); numbers are printed with fmt (locale-independent),
// SVG coordinates with 1 decimal, so the page is a pure function of the matrix.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <span>
#include <string_view>

#include "eval/report.h"
#include "eval/report_assets.h"
#include "eval/report_internal.h"

namespace qforge::eval {
using namespace report_detail;

namespace {

std::string Esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Sort key of a numeric cell: shortest round-trip form, "" when missing.
std::string SortKey(std::optional<double> v) { return v ? fmt::format("{}", *v) : ""; }
std::string Px(double v) { return fmt::format("{:.1f}", v); }

// ---------------------------------------------------------------------------------------------
// Methods: one colour + marker each (Okabe & Ito's colour-blind-safe palette, "Color Universal
// Design", 2008), canonical methods first, unknown ones after in alphabetical order.

struct MethodStyle {
  const char* color;
  const char* marker;  // circle | square | diamond | up | down | cross | star
};

constexpr std::string_view kKnownMethods[] = {"baseline", "rtn", "gptq", "awq", "awq+gptq"};
constexpr MethodStyle kKnownStyles[] = {
    {"#3d3d3d", "star"}, {"#e69f00", "circle"}, {"#0072b2", "square"}, {"#009e73", "up"}, {"#cc79a7", "diamond"}};
constexpr MethodStyle kOtherStyles[] = {
    {"#d55e00", "down"}, {"#56b4e9", "cross"}, {"#8c6d31", "circle"}, {"#7f7f7f", "square"}};

std::vector<std::string> MethodsPresent(const MatrixModel& m) {
  std::vector<std::string> known, other;
  for (const json* r : m.rows) {
    std::string method = Str(*r, {"method"});
    if (method.empty()) method = "?";
    bool is_known = std::find(std::begin(kKnownMethods), std::end(kKnownMethods), method) != std::end(kKnownMethods);
    auto& list = is_known ? known : other;
    if (std::find(list.begin(), list.end(), method) == list.end()) list.push_back(method);
  }
  std::sort(known.begin(), known.end(), [](const std::string& a, const std::string& b) {
    return std::find(std::begin(kKnownMethods), std::end(kKnownMethods), a) <
           std::find(std::begin(kKnownMethods), std::end(kKnownMethods), b);
  });
  std::sort(other.begin(), other.end());
  known.insert(known.end(), other.begin(), other.end());
  return known;
}

MethodStyle StyleOf(const std::vector<std::string>& methods, std::string_view method) {
  for (size_t k = 0; k < std::size(kKnownMethods); ++k) {
    if (kKnownMethods[k] == method) return kKnownStyles[k];
  }
  size_t unknown = 0;
  for (const std::string& m : methods) {
    if (m == method) break;
    if (std::find(std::begin(kKnownMethods), std::end(kKnownMethods), m) == std::end(kKnownMethods)) ++unknown;
  }
  return kOtherStyles[unknown % std::size(kOtherStyles)];
}

std::string MethodOf(const json& row) { return MethodText(row); }

// A marker of radius ~r centred at (x, y), filled with `color`.
std::string Marker(std::string_view shape, double x, double y, double r, std::string_view color) {
  std::string fill = fmt::format(" fill=\"{}\" stroke=\"#fff\" stroke-width=\"1\"", color);
  if (shape == "square") {
    double s = r * 0.9;
    return fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"{}/>", Px(x - s), Px(y - s), Px(2 * s),
                       Px(2 * s), fill);
  }
  auto poly = [&](std::initializer_list<std::pair<double, double>> pts) {
    std::string p;
    for (auto [dx, dy] : pts) p += fmt::format("{}{},{}", p.empty() ? "" : " ", Px(x + dx * r), Px(y + dy * r));
    return fmt::format("<polygon points=\"{}\"{}/>", p, fill);
  };
  if (shape == "diamond") return poly({{0, -1.25}, {1.1, 0}, {0, 1.25}, {-1.1, 0}});
  if (shape == "up") return poly({{0, -1.3}, {1.15, 0.8}, {-1.15, 0.8}});
  if (shape == "down") return poly({{0, 1.3}, {1.15, -0.8}, {-1.15, -0.8}});
  if (shape == "star") {
    std::string p;
    for (int k = 0; k < 10; ++k) {
      double a = -std::numbers::pi / 2 + k * std::numbers::pi / 5, rr = (k % 2 ? 0.55 : 1.45) * r;
      p += fmt::format("{}{},{}", k ? " " : "", Px(x + rr * std::cos(a)), Px(y + rr * std::sin(a)));
    }
    return fmt::format("<polygon points=\"{}\"{}/>", p, fill);
  }
  if (shape == "cross") {
    double s = r * 0.9;
    return fmt::format("<path d=\"M{} {}L{} {}M{} {}L{} {}\" stroke=\"{}\" stroke-width=\"2.5\"/>", Px(x - s),
                       Px(y - s), Px(x + s), Px(y + s), Px(x - s), Px(y + s), Px(x + s), Px(y - s), color);
  }
  return fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\"{}/>", Px(x), Px(y), Px(r), fill);
}

// ---------------------------------------------------------------------------------------------
// Axes: linear with "nice" 1-2-5 steps, or log10 (when the data span more than 10x) with ticks at
// 1-2-5 per decade (1..9 when that gives fewer than 3, decades only past 6 decades).

struct Axis {
  double lo = 0, hi = 1;  // data range shown (log10 of it for a log axis)
  bool log = false;
  double px0 = 0, px1 = 1;    // pixels of lo and hi
  std::vector<double> ticks;  // data values
  std::vector<std::string> labels;

  double Map(double v) const {
    double t = ((log ? std::log10(v) : v) - lo) / (hi - lo);
    return px0 + t * (px1 - px0);
  }
};

double NiceStep(double raw) {
  double e = std::floor(std::log10(raw)), f = raw / std::pow(10, e);
  double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nf * std::pow(10, e);
}

struct AxisOptions {
  bool allow_log = true;
  double log_ratio = 10;               // log scale when max / min exceeds this
  bool integer = false;                // ticks on whole numbers only (layer indices)
  double pad = 0.07;                   // fraction of the data range added on each side
  std::span<const double> candidates;  // log scale: tick values to choose from (thinned to >= 34 px apart)
};

// Bits per weight: the ticks a reader expects (integers, halves at low bits).
constexpr double kBitsTicks[] = {1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 10, 12, 16, 20, 24, 32};

// `values` are finite.
Axis MakeAxis(const std::vector<double>& values, double px0, double px1, const AxisOptions& o = {}) {
  Axis a;
  a.px0 = px0;
  a.px1 = px1;
  double mn = 0, mx = 1;
  if (!values.empty()) {
    mn = *std::min_element(values.begin(), values.end());
    mx = *std::max_element(values.begin(), values.end());
  }
  const bool integer = o.integer;
  const double pad_fraction = o.pad;
  a.log = o.allow_log && mn > 0 && mx / mn > o.log_ratio;
  if (a.log) {
    double l = std::log10(mn), h = std::log10(mx), pad = (h - l) * pad_fraction;
    a.lo = l - pad;
    a.hi = h + pad;
    if (!o.candidates.empty()) {
      double last_px = -1e9;
      for (double v : o.candidates) {
        double lv = std::log10(v);
        if (lv < a.lo || lv > a.hi) continue;
        if (std::abs(a.Map(v) - last_px) < 34) continue;
        last_px = a.Map(v);
        a.ticks.push_back(v);
        a.labels.push_back(fmt::format("{:g}", v));
      }
      if (a.ticks.size() >= 3) return a;
      a.ticks.clear();
      a.labels.clear();
    }
    for (const std::vector<double>& mult :
         {std::vector<double>{1, 2, 5}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
      a.ticks.clear();
      bool decades_only = a.hi - a.lo > 6;
      for (int e = static_cast<int>(std::floor(a.lo)); e <= static_cast<int>(std::ceil(a.hi)); ++e) {
        for (double m : mult) {
          if (decades_only && m != 1) continue;
          double v = m * std::pow(10.0, e), lv = std::log10(v);
          if (lv >= a.lo - 1e-12 && lv <= a.hi + 1e-12) a.ticks.push_back(v);
        }
      }
      if (a.ticks.size() >= 3) break;
    }
    for (double v : a.ticks) a.labels.push_back(fmt::format("{:g}", v));
    return a;
  }
  double range = mx - mn;
  double pad = range > 0 ? range * pad_fraction : (mx != 0 ? std::abs(mx) * 0.1 : 1);
  a.lo = mn - pad;
  a.hi = mx + pad;
  if (integer) {
    a.lo = std::min(a.lo, mn - 0.3);
    a.hi = std::max(a.hi, mx + 0.3);
  }
  double step = NiceStep((a.hi - a.lo) / 5);
  if (integer) step = std::max(1.0, std::round(step));
  int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  for (double k = std::ceil(a.lo / step); k * step <= a.hi + 1e-9 * step; k += 1) {
    double v = k * step;
    a.ticks.push_back(v);
    a.labels.push_back(fmt::format("{:.{}f}", std::abs(v) < step * 1e-9 ? 0.0 : v, decimals));
  }
  return a;
}

// Plot geometry (SVG user units).
struct Frame {
  double width = 640, height = 400, left = 70, right = 20, top = 20, bottom = 52;
  double below = 0;  // room under the x axis label (a legend)
  double X0() const { return left; }
  double X1() const { return width - right; }
  double Y0() const { return height - bottom - below; }  // bottom edge
  double Y1() const { return top; }
};

std::string SvgOpen(std::string_view id, const Frame& f, std::string_view title) {
  return fmt::format(
      "<svg id=\"{}\" class=\"plot\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" "
      "preserveAspectRatio=\"xMidYMid meet\"><title>{}</title>",
      id, f.width, f.height, Esc(title), Esc(title));
}

// Grid, ticks and axis labels.
std::string SvgAxes(const Frame& f, const Axis& x, const Axis& y, std::string_view x_label, std::string_view y_label) {
  std::string s = fmt::format("<rect class=\"bg\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>", Px(f.X0()),
                              Px(f.Y1()), Px(f.X1() - f.X0()), Px(f.Y0() - f.Y1()));
  for (size_t i = 0; i < x.ticks.size(); ++i) {
    double px = x.Map(x.ticks[i]);
    s += fmt::format("<line class=\"grid\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>", Px(px), Px(f.Y1()),
                     Px(f.Y0()));
    s += fmt::format("<line class=\"tickmark\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>", Px(px), Px(f.Y0()),
                     Px(f.Y0() + 5));
    s += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", Px(px), Px(f.Y0() + 18),
                     Esc(x.labels[i]));
  }
  for (size_t i = 0; i < y.ticks.size(); ++i) {
    double py = y.Map(y.ticks[i]);
    s += fmt::format("<line class=\"grid\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>", Px(f.X0()), Px(f.X1()),
                     Px(py));
    s += fmt::format("<line class=\"tickmark\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>", Px(f.X0() - 5),
                     Px(f.X0()), Px(py));
    s += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", Px(f.X0() - 8), Px(py + 4),
                     Esc(y.labels[i]));
  }
  s += fmt::format("<rect class=\"axisframe\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>", Px(f.X0()), Px(f.Y1()),
                   Px(f.X1() - f.X0()), Px(f.Y0() - f.Y1()));
  s += fmt::format("<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}{}</text>",
                   Px((f.X0() + f.X1()) / 2), Px(f.Y0() + 40), Esc(x_label), x.log ? " (log)" : "");
  s += fmt::format(
      "<text class=\"axis-label\" transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}{}</text>",
      Px(18), Px((f.Y0() + f.Y1()) / 2), Esc(y_label), y.log ? " (log)" : "");
  return s;
}

std::string NoData(const Frame& f, std::string_view what) {
  return fmt::format("<text class=\"nodata\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no {} to plot</text>",
                     Px(f.width / 2), Px(f.height / 2), Esc(what));
}

struct LegendItem {
  std::string label, color, marker;  // marker "" for a line sample
  std::string dash;                  // stroke-dasharray of a line sample ("" solid)
  bool line = false;
};

double LegendWidth(const std::vector<LegendItem>& items) {
  size_t longest = 0;
  for (const LegendItem& it : items) longest = std::max(longest, it.label.size());
  return 44 + 6.4 * static_cast<double>(std::min<size_t>(longest, 28));
}

// A legend box with its top-left corner at (x, y); `cols` columns of `col_width` (0: one column, boxed).
std::string SvgLegend(double x, double y, const std::vector<LegendItem>& items, size_t cols = 1, double col_width = 0) {
  if (items.empty()) return "";
  size_t rows = (items.size() + cols - 1) / cols;
  double w = col_width > 0 ? col_width * static_cast<double>(cols) : LegendWidth(items), h = 10 + 18.0 * rows;
  std::string s = fmt::format(
      "<g class=\"legend\"><rect class=\"legend-bg\" x=\"{}\" y=\"{}\" width=\"{}\" "
      "height=\"{}\" rx=\"4\"/>",
      Px(x), Px(y), Px(w), Px(h));
  for (size_t i = 0; i < items.size(); ++i) {
    const LegendItem& it = items[i];
    double cx = x + (col_width > 0 ? col_width * static_cast<double>(i / rows) : 0);
    double cy = y + 14 + 18.0 * static_cast<double>(i % rows);
    if (it.line) {
      s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>",
                       Px(cx + 8), Px(cx + 30), Px(cy), it.color,
                       it.dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", it.dash));
    }
    if (!it.marker.empty()) s += Marker(it.marker, cx + 19, cy, 4.5, it.color);
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>", Px(cx + 38), Px(cy + 4), Esc(it.label));
  }
  return s + "</g>";
}

// ---------------------------------------------------------------------------------------------
// Scatter with Pareto front (minimise x; minimise or maximise y).

struct ScatterPoint {
  double x = 0, y = 0;
  size_t row = 0;
  std::string method, tip, label;
};

struct ScatterSpec {
  std::string id, title, x_label, y_label, what;
  std::vector<ScatterPoint> points;
  bool maximize_y = false;
  AxisOptions x_axis;
  std::optional<double> ref_y;  // a dashed horizontal reference (the baseline)
};

// Axis-aligned boxes in SVG units, for placing labels and legends where they hide nothing.
struct Box {
  double x0, y0, x1, y1;
};

double Overlap(const Box& a, const Box& b) {
  double w = std::min(a.x1, b.x1) - std::max(a.x0, b.x0), h = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
  return w > 0 && h > 0 ? w * h : 0;
}

// A point label (11 px text) beside (px, py): the first of 8 positions around the point that stays in
// the frame and overlaps nothing in `placed` (else the least overlapping); the label's box is added to
// `placed`.
std::string PlaceLabel(double px, double py, std::string_view text, const Frame& f, std::vector<Box>& placed) {
  const double w = 6.3 * static_cast<double>(text.size()), h = 12;
  struct Spot {
    double dx, dy;
    const char* anchor;
  };
  static constexpr Spot kSpots[] = {{9, -7, "start"},   {9, 15, "start"},  {-9, -7, "end"}, {-9, 15, "end"},
                                    {0, -12, "middle"}, {0, 22, "middle"}, {9, 4, "start"}, {-9, 4, "end"}};
  double best_cost = 1e300;
  size_t best = 0;
  Box best_box{};
  for (size_t k = 0; k < std::size(kSpots); ++k) {
    const Spot& sp = kSpots[k];
    double tx = px + sp.dx, base = py + sp.dy;
    double x0 = sp.anchor[0] == 's' ? tx : sp.anchor[0] == 'e' ? tx - w : tx - w / 2;
    Box b{x0, base - h + 2, x0 + w, base + 3};
    double cost = 0;
    if (b.x0 < f.X0() || b.x1 > f.X1() || b.y0 < f.Y1() || b.y1 > f.Y0()) cost += 1e6;
    for (const Box& t : placed) cost += Overlap(b, t);
    if (cost < best_cost - 1e-9) {
      best_cost = cost;
      best = k;
      best_box = b;
    }
  }
  placed.push_back(best_box);
  return fmt::format("<text class=\"pt-label\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{}</text>",
                     Px(px + kSpots[best].dx), Px(py + kSpots[best].dy), kSpots[best].anchor, Esc(text));
}

// Indices into spec.points of the front, in ascending x.
std::vector<size_t> ScatterFront(const ScatterSpec& spec) {
  std::vector<std::pair<double, double>> pts;
  for (const ScatterPoint& p : spec.points) pts.emplace_back(p.x, spec.maximize_y ? -p.y : p.y);
  return ParetoFront(pts);
}

std::string RenderScatter(const ScatterSpec& spec, const std::vector<std::string>& methods) {
  Frame f;
  std::string s = SvgOpen(spec.id, f, spec.title);
  std::vector<double> xs, ys;
  for (const ScatterPoint& p : spec.points) {
    xs.push_back(p.x);
    ys.push_back(p.y);
  }
  if (spec.ref_y) ys.push_back(*spec.ref_y);
  AxisOptions yo;
  yo.pad = 0.09;
  Axis x = MakeAxis(xs, f.X0(), f.X1(), spec.x_axis), y = MakeAxis(ys, f.Y0(), f.Y1(), yo);
  s += SvgAxes(f, x, y, spec.x_label, spec.y_label);
  if (spec.points.empty()) return s + NoData(f, spec.what) + "</svg>";

  if (spec.ref_y) {
    double py = y.Map(*spec.ref_y);
    s += fmt::format("<line class=\"ref\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>", Px(f.X0()), Px(f.X1()),
                     Px(py));
  }
  // The front as a step line: from each front point right to the next one's x, then to its y.
  std::vector<size_t> front = ScatterFront(spec);
  if (!front.empty()) {
    std::string d = fmt::format("M{} {}", Px(x.Map(spec.points[front[0]].x)), Px(y.Map(spec.points[front[0]].y)));
    for (size_t k = 1; k < front.size(); ++k) {
      d += fmt::format("H{}V{}", Px(x.Map(spec.points[front[k]].x)), Px(y.Map(spec.points[front[k]].y)));
    }
    s += fmt::format("<path class=\"front\" d=\"{}\"/>", d);
  }
  for (size_t i = 0; i < spec.points.size(); ++i) {
    const ScatterPoint& p = spec.points[i];
    MethodStyle st = StyleOf(methods, p.method);
    s += fmt::format("<g class=\"pt\" data-row=\"{}\"><title>{}</title>{}</g>", p.row, Esc(p.tip),
                     Marker(st.marker, x.Map(p.x), y.Map(p.y), 6, st.color));
  }
  // Legend in the corner that covers the fewest points, then the front's labels where they overlap
  // nothing placed before them.
  std::vector<LegendItem> legend;
  for (const std::string& m : methods) {
    bool used =
        std::any_of(spec.points.begin(), spec.points.end(), [&](const ScatterPoint& p) { return p.method == m; });
    if (!used) continue;
    MethodStyle st = StyleOf(methods, m);
    legend.push_back({m, st.color, st.marker, "", false});
  }
  if (front.size() >= 2) legend.push_back({"Pareto front", "#b3261e", "", "", true});
  std::vector<Box> taken;
  for (const ScatterPoint& p : spec.points) {
    double px = x.Map(p.x), py = y.Map(p.y);
    taken.push_back({px - 7, py - 7, px + 7, py + 7});
  }
  const double lw = LegendWidth(legend), lh = 10 + 18.0 * static_cast<double>(legend.size());
  Box best_box{};
  double best_cost = 1e300;
  for (int corner = 0; corner < 4; ++corner) {
    double bx = corner % 2 == 0 ? f.X1() - lw - 10 : f.X0() + 10;
    double by = corner < 2 ? f.Y1() + 10 : f.Y0() - lh - 10;
    Box b{bx, by, bx + lw, by + lh};
    double cost = 0;
    for (const Box& t : taken) cost += Overlap(b, t);
    if (cost < best_cost - 1e-9) {
      best_cost = cost;
      best_box = b;
    }
  }
  std::string labels;
  std::vector<Box> placed = taken;
  placed.push_back(best_box);
  for (size_t i : front) {
    const ScatterPoint& p = spec.points[i];
    labels += PlaceLabel(x.Map(p.x), y.Map(p.y), p.label, f, placed);
  }
  s += labels + SvgLegend(best_box.x0, best_box.y0, legend);
  return s + "</svg>";
}

// ---------------------------------------------------------------------------------------------
// Per-layer error: one line per row across the decoder layers. Colour = method, dash = bits,
// marker shape distinguishes rows that share method and bits (e.g. two group sizes).

std::string DashOf(std::optional<double> bits) {
  if (!bits) return "";
  int b = static_cast<int>(*bits);
  if (b >= 8) return "2 3";
  if (b >= 5) return "8 3 2 3";
  if (b == 4) return "7 4";
  return "";
}

std::string RenderLayerError(const MatrixModel& m, const std::vector<std::string>& methods) {
  struct Line {
    size_t row;
    std::vector<double> err;  // NaN where missing
  };
  std::vector<Line> lines;
  std::vector<double> xs, ys;
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const json* le = Find(*m.rows[i], {"quantize", "layer_error"});
    if (le == nullptr || !le->is_array() || le->empty()) continue;
    Line line{i, {}};
    for (const json& e : *le) {
      double v = e.is_number() ? e.get<double>() : NAN;
      line.err.push_back(std::isfinite(v) && v > 0 ? v : NAN);
      if (std::isfinite(line.err.back())) {
        xs.push_back(static_cast<double>(line.err.size() - 1));
        ys.push_back(v);
      }
    }
    if (std::any_of(line.err.begin(), line.err.end(), [](double v) { return std::isfinite(v); })) lines.push_back(line);
  }
  AxisOptions xo, yo;
  xo.allow_log = false;
  xo.integer = true;
  xo.pad = 0.03;
  yo.pad = 0.08;
  // The legend goes under the plot, in columns (one entry per line).
  size_t longest = 0;
  for (const Line& line : lines) longest = std::max(longest, Str(*m.rows[line.row], {"id"}).size());
  Frame f;
  const size_t cols = longest <= 20 ? 3 : longest <= 34 ? 2 : 1;
  const double col_width = (f.X1() - f.X0()) / static_cast<double>(cols);
  const size_t legend_rows = (lines.size() + cols - 1) / cols;
  f.below = lines.empty() ? 0 : 14 + 18.0 * static_cast<double>(legend_rows);
  f.height += f.below;
  std::string s = SvgOpen("plot-layer-error", f, "Quantization error per decoder layer");
  Axis x = MakeAxis(xs, f.X0(), f.X1(), xo), y = MakeAxis(ys, f.Y0(), f.Y1(), yo);
  s += SvgAxes(f, x, y, "decoder layer", "relative output error");
  if (lines.empty()) return s + NoData(f, "quantize.layer_error") + "</svg>";

  static constexpr const char* kShapes[] = {"circle", "square", "up", "diamond", "down", "cross"};
  std::map<std::pair<std::string, std::string>, int> variants;
  std::vector<LegendItem> legend;
  for (const Line& line : lines) {
    const json& row = *m.rows[line.row];
    std::string method = MethodOf(row);
    MethodStyle st = StyleOf(methods, method);
    std::optional<double> bits = Num(row, {"bits"});
    int variant = variants[{method, BitsText(row)}]++;
    std::string shape = kShapes[variant % std::size(kShapes)];
    std::string dash = DashOf(bits);
    std::string d, marks;
    bool pen_down = false;
    for (size_t l = 0; l < line.err.size(); ++l) {
      if (!std::isfinite(line.err[l])) {
        pen_down = false;
        continue;
      }
      double px = x.Map(static_cast<double>(l)), py = y.Map(line.err[l]);
      d += fmt::format("{}{} {}", pen_down ? "L" : "M", Px(px), Px(py));
      pen_down = true;
      marks += Marker(shape, px, py, 3.2, st.color);
    }
    std::string id = Str(row, {"id"});
    s += fmt::format(
        "<g class=\"ln\" data-row=\"{}\"><title>{}: total error {}</title><path d=\"{}\" stroke=\"{}\"{}/>{}</g>",
        line.row, Esc(id), Fixed(Num(row, {"quantize", "total_error"}), 5), d, st.color,
        dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", dash), marks);
    legend.push_back({id.empty() ? method : id, st.color, shape, dash, true});
  }
  s += SvgLegend(f.X0(), f.Y0() + 52, legend, cols, col_width);
  return s + "</svg>";
}

// ---------------------------------------------------------------------------------------------
// The page.

std::string Short(std::string_view sha) { return std::string(sha.substr(0, std::min<size_t>(sha.size(), 12))); }

std::string IntText(std::optional<double> v) {
  return v ? fmt::format("{}", static_cast<long long>(std::llround(*v))) : std::string(kDash);
}

// A numeric table cell.
std::string NumCell(std::optional<double> v, int decimals, double scale = 1, std::string_view title = "") {
  return fmt::format("<td data-v=\"{}\"{}>{}</td>", SortKey(v ? std::optional<double>(*v * scale) : std::nullopt),
                     title.empty() ? "" : fmt::format(" title=\"{}\"", Esc(title)), Fixed(v, decimals, scale));
}

std::string DeltaSpan(std::optional<double> d) {
  if (!d) return "";
  const char* cls = *d <= 1.0 ? "ok" : *d <= 5.0 ? "mid" : "bad";
  return fmt::format("<span class=\"delta {}\">{:+.2f}%</span>", cls, *d);
}

std::string Header(const json& matrix, const MatrixModel& m) {
  std::string model = Str(matrix, {"model"});
  size_t slash = model.find_last_of('/');
  std::string h1 =
      slash == std::string::npos || slash + 1 == model.size()
          ? Esc(model.empty() ? std::string(kDash) : model)
          : "<span class=\"dir\">" + Esc(model.substr(0, slash + 1)) + "</span>" + Esc(model.substr(slash + 1));
  std::string s = "<header class=\"top\"><div class=\"eyebrow\">qforge &middot; quantization tradeoff report</div>";
  s += "<h1>" + h1 + "</h1><div class=\"chips\">";
  size_t failed =
      static_cast<size_t>(std::count_if(m.rows.begin(), m.rows.end(), [](const json* r) { return Failed(*r); }));
  s += fmt::format("<span class=\"chip\">{} configuration{}</span>", m.rows.size(), m.rows.size() == 1 ? "" : "s");
  if (failed) s += fmt::format("<span class=\"chip bad\">{} failed</span>", failed);
  if (auto t = Num(matrix, {"threads"})) s += fmt::format("<span class=\"chip\">{} threads</span>", IntText(t));
  s += fmt::format("<span class=\"chip\">{}</span>",
                   m.baseline >= 0 ? "baseline: " + Esc(Str(*m.rows[static_cast<size_t>(m.baseline)], {"id"}))
                                   : std::string("no baseline row"));
  s += "</div>";
  std::string cmd = Str(matrix, {"created_by"});
  s += "<pre class=\"cmd\">" + Esc(cmd.empty() ? std::string(kDash) : cmd) + "</pre><dl class=\"meta\">";
  const json* cal = Find(matrix, {"calibration"});
  s += "<dt>Calibration</dt><dd>";
  if (cal != nullptr && cal->is_object()) {
    s += fmt::format("N = {} samples &times; L = {} tokens, seed {}", IntText(Num(*cal, {"samples"})),
                     IntText(Num(*cal, {"seqlen"})), IntText(Num(*cal, {"seed"})));
    if (const json* files = Find(*cal, {"files"}); files != nullptr && files->is_array()) {
      s += "<ul>";
      for (const json& fl : *files) {
        std::string sha = Str(fl, {"sha256"});
        s += fmt::format(
            "<li><code>{}</code> <span class=\"sha mono\" title=\"sha256 {}\">sha256 {}&hellip;</span></li>",
            Esc(Str(fl, {"path"})), Esc(sha), Esc(Short(sha)));
      }
      s += "</ul>";
    }
  } else {
    s += std::string(kDash) + " (no calibration: RTN / baseline only)";
  }
  s += "</dd><dt>Texts</dt><dd>";
  const json* texts = Find(matrix, {"texts"});
  if (texts != nullptr && texts->is_array() && !texts->empty()) {
    s += "<ul>";
    for (const json& t : *texts) {
      std::string sha = Str(t, {"sha256"});
      s += fmt::format("<li><code>{}</code> <span class=\"sha mono\" title=\"sha256 {}\">sha256 {}&hellip;</span></li>",
                       Esc(Str(t, {"path"})), Esc(sha), Esc(Short(sha)));
    }
    s += "</ul>";
  } else {
    s += std::string(kDash);
  }
  return s + "</dd></dl></header>";
}

std::string MatrixTable(const MatrixModel& m, const std::vector<std::string>& methods,
                        const std::vector<bool>& on_front) {
  // Column headers: {group, label, tooltip, left-aligned, sortable}.
  struct Col {
    std::string group, label, tip;
    bool left = false, sortable = true;
    std::string sub;  // a second, smaller header line (the PPL protocol)
  };
  std::vector<Col> cols;
  auto add = [&cols](std::string group, std::string label, std::string tip, bool left = false, bool sortable = true,
                     std::string sub = "") {
    cols.push_back({std::move(group), std::move(label), std::move(tip), left, sortable, std::move(sub)});
  };
  add("Configuration", "id", "row id", true);
  add("Configuration", "method", "quantization method", true);
  add("Configuration", "bits", "weight bits");
  add("Configuration", "group", "weights per scale along the input");
  add("Size", "weights MB", "bytes of all tensors / 10^6");
  add("Size", "bits/w", "bits per weight of the quantized linears (tooltip: whole model)");
  for (const PplSeries& s : m.ppl) {
    size_t slash = s.label.find_last_of('/');
    bool split = !s.protocol.empty() && slash != std::string::npos;
    add("Perplexity \u2193", split ? s.label.substr(0, slash) : s.label,
        "PPL ± stderr on " + s.text + " (" + s.protocol + "); Δ% vs baseline", false, true, split ? s.protocol : "");
  }
  add("KL vs baseline", "KLD mean", "mean KL divergence of the next-token distribution to the baseline's");
  add("KL vs baseline", "KLD p99", "99th percentile of the per-token KL divergence");
  add("KL vs baseline", "top\u20111 %", "tokens whose argmax equals the baseline's");
  add("Speed", "TTFT ms", "time to first token");
  add("Speed", "TPOT ms", "time per output token");
  add("Speed", "decode tok/s", "decode tokens per second (tooltip: prefill)");
  add("Memory", "peak RSS MB", "peak resident set size / 10^6");
  add("Memory", "KV B/token", "bytes the KV cache holds per token (its type in the tooltip)");
  for (const std::string& t : m.tasks) add("Tasks (acc %)", t, "accuracy ± stderr on " + t);
  add("Quantize", "error", "RMS relative output error over all linears (calibration inputs)");
  add("Quantize", "time s", "quantization wall time");
  add("Row", "status", "ok, or why the row failed", true);
  add("Row", "command", "the exact command that produced the row", true, false);

  std::string s = "<div class=\"table-wrap\"><table id=\"matrix\" class=\"matrix\"><thead><tr class=\"groups\">";
  for (size_t i = 0; i < cols.size();) {
    size_t j = i;
    while (j < cols.size() && cols[j].group == cols[i].group) ++j;
    s += fmt::format("<th colspan=\"{}\">{}</th>", j - i, Esc(cols[i].group));
    i = j;
  }
  s += "</tr><tr>";
  for (size_t i = 0; i < cols.size(); ++i) {
    const Col& c = cols[i];
    std::string cls = std::string(c.left ? "l" : "") + (c.sortable ? (c.left ? " sortable" : "sortable") : "");
    // Long names (file names) may break after '.', '-', '_' and '/'.
    std::string label;
    for (char ch : Esc(c.label)) {
      label += ch;
      if (ch == '.' || ch == '-' || ch == '_' || ch == '/') label += "<wbr>";
    }
    if (!c.sub.empty()) label += "<span class=\"sub\">" + Esc(c.sub) + "</span>";
    s += fmt::format("<th class=\"{}\" data-col=\"{}\" title=\"{}\"{}>{}</th>", cls, i, Esc(c.tip),
                     c.sortable ? " tabindex=\"0\"" : "", label);
  }
  s += "</tr></thead><tbody>";

  const json* base = m.baseline >= 0 ? m.rows[static_cast<size_t>(m.baseline)] : nullptr;
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const json& row = *m.rows[i];
    bool failed = Failed(row);
    std::string method = MethodOf(row);
    std::string cls = failed ? "failed" : static_cast<int>(i) == m.baseline ? "baseline" : "";
    s += fmt::format("<tr data-i=\"{}\" data-row=\"{}\"{}>", i, i, cls.empty() ? "" : " class=\"" + cls + "\"");
    std::string id = Str(row, {"id"});
    s += fmt::format(
        "<td class=\"l id\" data-s=\"{}\">{}{}</td>", Esc(id), Esc(id.empty() ? std::string(kDash) : id),
        on_front[i] ? "<span class=\"badge\" title=\"on the Pareto front of the quality plot\">front</span>" : "");
    s += fmt::format("<td class=\"l\" data-s=\"{0}\"><span class=\"dot\" style=\"background:{1}\"></span>{0}</td>",
                     Esc(method), StyleOf(methods, method).color);
    s += fmt::format("<td data-v=\"{}\">{}</td>", SortKey(Num(row, {"bits"})), BitsText(row));
    std::optional<double> g = Num(row, {"group_size"});
    s += fmt::format("<td data-v=\"{}\">{}</td>", SortKey(g ? std::optional<double>(*g < 0 ? 1e18 : *g) : std::nullopt),
                     GroupText(row));
    s += NumCell(Num(row, {"eval", "size", "weight_bytes"}), 2, 1e-6);
    std::optional<double> mbpw = Num(row, {"eval", "size", "model_bits_per_weight"});
    s += NumCell(Num(row, {"eval", "size", "linear_bits_per_weight"}), 3, 1,
                 mbpw ? fmt::format("whole model: {:.3f} bits/weight", *mbpw) : "");
    for (const PplSeries& ser : m.ppl) {
      const json* e = FindPplEntry(row, ser);
      std::optional<double> p = e ? Num(*e, {"ppl"}) : std::nullopt, se = e ? Num(*e, {"stderr"}) : std::nullopt;
      const json* be = base != nullptr && base != &row ? FindPplEntry(*base, ser) : nullptr;
      std::optional<double> d = DeltaPercent(p, be ? Num(*be, {"ppl"}) : std::nullopt);
      std::string tokens = e ? IntText(Num(*e, {"tokens"})) : std::string(kDash);
      s += fmt::format("<td data-v=\"{}\" title=\"{} tokens scored\">{}{}{}</td>", SortKey(p), tokens, Fixed(p, 4),
                       se ? fmt::format("<span class=\"pm\">±{:.4f}</span>", *se) : "", DeltaSpan(d));
    }
    s += NumCell(Num(row, {"eval", "quality", "kld", "mean"}), 5);
    s += NumCell(Num(row, {"eval", "quality", "kld", "p99"}), 5);
    s += NumCell(Num(row, {"eval", "quality", "kld", "top1_agreement"}), 2, 100);
    s += NumCell(Num(row, {"eval", "speed", "ttft_ms"}), 2);
    s += NumCell(Num(row, {"eval", "speed", "tpot_ms"}), 2);
    std::optional<double> prefill = Num(row, {"eval", "speed", "prefill_tps"});
    s += NumCell(Num(row, {"eval", "speed", "decode_tps"}), 1, 1,
                 prefill ? fmt::format("prefill {:.1f} tok/s", *prefill) : "");
    s += NumCell(Num(row, {"eval", "size", "peak_rss_bytes"}), 1, 1e-6);
    s += NumCell(Num(row, {"eval", "kv_cache", "bytes_per_token"}), 0, 1, Str(row, {"eval", "kv_cache", "type"}));
    for (const std::string& t : m.tasks) {
      const json* e = TaskEntry(row, t);
      std::optional<double> acc = e ? Num(*e, {"acc"}) : std::nullopt, se = e ? Num(*e, {"acc_stderr"}) : std::nullopt;
      s += fmt::format("<td data-v=\"{}\">{}{}</td>", SortKey(acc), Fixed(acc, 2, 100),
                       acc && se ? fmt::format("<span class=\"pm\">±{:.2f}</span>", *se * 100) : "");
    }
    s += NumCell(Num(row, {"quantize", "total_error"}), 5);
    s += NumCell(Num(row, {"quantize", "seconds"}), 1);
    std::string status = Str(row, {"status"});
    s += fmt::format("<td class=\"l status\" title=\"{0}\">{1}</td>", Esc(status),
                     Esc(status.empty() ? std::string(kDash) : status));
    std::string cmd = Str(row, {"command"});
    if (cmd.empty()) {
      s += fmt::format("<td class=\"l cmd\">{}</td>", kDash);
    } else {
      s += fmt::format(
          "<td class=\"l cmd\"><details><summary title=\"{0}\">show</summary><code>{0}</code></details></td>",
          Esc(cmd));
    }
    s += "</tr>";
  }
  return s + "</tbody></table></div>";
}

std::string Provenance(const json& matrix, const MatrixModel& m, int section) {
  std::string s = fmt::format(
      "<section class=\"card\" id=\"sec-provenance\"><h2><span class=\"num\">{}</span>Provenance</h2>", section);
  s += "<h3>Calibration set</h3>";
  const json* cal = Find(matrix, {"calibration"});
  if (cal != nullptr && cal->is_object()) {
    s += fmt::format(
        "<p class=\"hint\">N = {} windows of L = {} tokens drawn with seed {} from a stream of {} tokens ({} "
        "used).</p>",
        IntText(Num(*cal, {"samples"})), IntText(Num(*cal, {"seqlen"})), IntText(Num(*cal, {"seed"})),
        IntText(Num(*cal, {"stream_tokens"})), IntText(Num(*cal, {"tokens_used"})));
    s += "<table class=\"prov\" id=\"calibration-files\"><thead><tr><th>file</th><th>SHA-256</th><th>bytes</th>"
         "<th>documents</th></tr></thead><tbody>";
    if (const json* files = Find(*cal, {"files"}); files != nullptr && files->is_array()) {
      for (const json& fl : *files) {
        s += fmt::format(
            "<tr><td><code>{}</code></td><td class=\"mono\">{}</td><td class=\"n\">{}</td>"
            "<td class=\"n\">{}</td></tr>",
            Esc(Str(fl, {"path"})), Esc(Str(fl, {"sha256"})), IntText(Num(fl, {"bytes"})),
            IntText(Num(fl, {"documents"})));
      }
    }
    s += "</tbody></table>";
  } else {
    s += fmt::format("<p class=\"hint\">{} no calibration set recorded.</p>", kDash);
  }
  s += "<h3>Evaluation texts</h3><table class=\"prov\"><thead><tr><th>file</th><th>SHA-256</th></tr></thead><tbody>";
  if (const json* texts = Find(matrix, {"texts"}); texts != nullptr && texts->is_array()) {
    for (const json& t : *texts) {
      s += fmt::format("<tr><td><code>{}</code></td><td class=\"mono\">{}</td></tr>", Esc(Str(t, {"path"})),
                       Esc(Str(t, {"sha256"})));
    }
  }
  s += "</tbody></table><h3>Commands</h3><ol class=\"cmds\" id=\"commands\">";
  for (const json* r : m.rows) {
    std::string cmd = Str(*r, {"command"});
    s += fmt::format("<li><div class=\"rid\">{}</div><pre>{}</pre></li>", Esc(Str(*r, {"id"})),
                     Esc(cmd.empty() ? std::string(kDash) : cmd));
  }
  return s + "</ol></section>";
}

}  // namespace

std::string RenderReportHtml(const json& matrix, const ReportOptions& options) {
  const MatrixModel m = Analyze(matrix);
  const std::vector<std::string> methods = MethodsPresent(m);
  const bool use_kld = options.quality_metric == ReportQualityMetric::kKldMean;
  const json* base = m.baseline >= 0 ? m.rows[static_cast<size_t>(m.baseline)] : nullptr;

  // Quality vs bits/weight (and KLD vs bits/weight as a second plot when PPL is the main metric).
  auto quality_spec = [&](bool kld) {
    ScatterSpec spec;
    spec.id = kld ? (use_kld ? "plot-ppl-bpw" : "plot-kld-bpw") : "plot-ppl-bpw";
    std::string metric = kld ? "mean KL divergence to the baseline" : "perplexity";
    if (!kld && !m.ppl.empty()) metric += " (" + m.ppl[0].label + ")";
    spec.title = metric + " vs bits per weight";
    spec.what = kld ? "KLD" : "perplexity";
    spec.x_label = "bits per weight of the quantized linears";
    spec.y_label = kld ? "KLD mean (nats)" : "perplexity";
    spec.x_axis.log_ratio = 3;  // 3..16 bits: log spreads the 3-5 bit configurations apart
    spec.x_axis.candidates = kBitsTicks;
    for (size_t i = 0; i < m.rows.size(); ++i) {
      const json& row = *m.rows[i];
      if (Failed(row)) continue;
      std::optional<double> x = Num(row, {"eval", "size", "linear_bits_per_weight"}), y;
      if (kld) {
        y = Num(row, {"eval", "quality", "kld", "mean"});
      } else if (!m.ppl.empty()) {
        const json* e = FindPplEntry(row, m.ppl[0]);
        y = e ? Num(*e, {"ppl"}) : std::nullopt;
      }
      if (!x || !y) continue;
      // The baseline's KLD to itself is 0 by definition: not a point (it would also rule out a log axis).
      if (kld && MethodOf(row) == "baseline") continue;
      std::string id = Str(row, {"id"});
      spec.points.push_back({*x, *y, i, MethodOf(row),
                             fmt::format("{}: {:.3f} bits/weight, {} {}", id, *x, kld ? "KLD" : "PPL",
                                         kld ? fmt::format("{:.5f}", *y) : fmt::format("{:.4f}", *y)),
                             id});
    }
    if (!kld && base != nullptr && !m.ppl.empty()) {
      const json* e = FindPplEntry(*base, m.ppl[0]);
      spec.ref_y = e ? Num(*e, {"ppl"}) : std::nullopt;
    }
    return spec;
  };
  ScatterSpec main_spec = quality_spec(use_kld);
  std::vector<bool> on_front(m.rows.size(), false);
  for (size_t k : ScatterFront(main_spec)) on_front[main_spec.points[k].row] = true;
  bool kld_present = std::any_of(m.rows.begin(), m.rows.end(), [](const json* r) {
    return Num(*r, {"eval", "quality", "kld", "mean"}).has_value() && !Failed(*r);
  });

  ScatterSpec speed;
  speed.id = "plot-speed-size";
  speed.title = "decode tokens/s vs model size";
  speed.what = "speed";
  speed.x_label = "weight size (MB = 10^6 bytes)";
  speed.y_label = "decode tokens/s";
  speed.maximize_y = true;
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const json& row = *m.rows[i];
    if (Failed(row)) continue;
    std::optional<double> bytes = Num(row, {"eval", "size", "weight_bytes"}),
                          tps = Num(row, {"eval", "speed", "decode_tps"});
    if (!bytes || !tps) continue;
    std::string id = Str(row, {"id"});
    speed.points.push_back({*bytes * 1e-6, *tps, i, MethodOf(row),
                            fmt::format("{}: {:.2f} MB, {:.1f} decode tok/s", id, *bytes * 1e-6, *tps), id});
  }

  std::string model = Str(matrix, {"model"});
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  out += "<meta name=\"generator\" content=\"qforge\">";
  out += "<title>qforge report \u2014 " + Esc(model) + "</title><style>";
  out += kCss;
  out += "</style><script>";
  out += kErrorJs;
  out += "</script></head><body><div class=\"wrap\">";
  out += Header(matrix, m);

  int section = 0;
  out += fmt::format("<section class=\"card\" id=\"sec-matrix\"><h2><span class=\"num\">{}</span>Tradeoff matrix</h2>",
                     ++section);
  out +=
      "<p class=\"hint\">Click a column header to sort (again to reverse); missing values stay last. "
      "Δ% is the perplexity change against the baseline row; <span class=\"badge\">front</span> marks the "
      "configurations on the Pareto front of the quality plot. Hover a row to find it in the plots; scroll "
      "sideways for speed, memory, tasks and the exact commands.</p>";
  out += MatrixTable(m, methods, on_front);
  out += "</section>";

  // Plot cards, two per line (an odd last one spans the line).
  struct Card {
    std::string id, title, svg, caption;
  };
  std::vector<Card> cards;
  cards.push_back(
      {"sec-quality", use_kld ? "KL divergence vs bits per weight" : "Perplexity vs bits per weight",
       RenderScatter(main_spec, methods),
       "Lower-left is better. The red step line is the Pareto front: no other configuration has both fewer "
       "bits per weight and a lower " +
           std::string(use_kld ? "KLD" : "perplexity") +
           ". Dashed: the baseline. Failed rows and missing values are not drawn; hover a point for its values."});
  if (!use_kld && kld_present) {
    cards.push_back({"sec-kld", "KL divergence vs bits per weight", RenderScatter(quality_spec(true), methods),
                     "Mean KL divergence of each configuration's next-token distribution to the baseline's; "
                     "lower-left is better."});
  }
  cards.push_back({"sec-speed", "Decode speed vs size", RenderScatter(speed, methods),
                   "Upper-left is better (smaller and faster); the step line is the Pareto front."});
  cards.push_back({"sec-layers", "Quantization error per layer", RenderLayerError(m, methods),
                   "quantize.layer_error: per decoder layer, the RMS over its linears of the relative output error "
                   "sqrt(tr(&Delta;H&Delta;&#7488;) / tr(WHW&#7488;)) on the calibration inputs. Colour: method; "
                   "dash: bits (solid &le; 3, dashed 4, dotted 8); marker: configuration."});
  out += "<div class=\"plots\">";
  for (size_t k = 0; k < cards.size(); ++k) {
    bool wide = k + 1 == cards.size() && cards.size() % 2 == 1;
    out += fmt::format(
        "<section class=\"card{}\" id=\"{}\"><h2><span class=\"num\">{}</span>{}</h2><figure>{}"
        "<figcaption>{}</figcaption></figure></section>",
        wide ? " wide" : "", cards[k].id, ++section, cards[k].title, cards[k].svg, cards[k].caption);
  }
  out += "</div>";
  out += Provenance(matrix, m, ++section);
  out +=
      "<footer>Generated by qforge. This file is self-contained: no network access, no external resources."
      "</footer></div><script>";
  out += kJs;
  out += "</script></body></html>\n";
  return out;
}

}  // namespace qforge::eval
