//! A self-contained HTML report (no scripts, no external assets): channel summary, channel
//! P&L with a chart per currency, fees by type, exceptions by reason, and the KPIs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use marketsync_core::{Currency, Money};
use marketsync_pipeline::report::{ChannelPnl, Kpis, PnlKey};

/// One channel's sync outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelSummary {
    /// Channel name.
    pub channel: String,
    /// Orders fetched.
    pub orders_fetched: u64,
    /// Orders posted to the ERP.
    pub orders_posted: u64,
    /// Deliveries suppressed as duplicates.
    pub duplicates_suppressed: u64,
    /// Refund events posted (refund document and reversal journal).
    pub refunds_posted: u64,
    /// Settlements reconciled.
    pub settlements_reconciled: u64,
    /// Exceptions by reason code.
    pub exceptions: BTreeMap<String, u64>,
}

/// Everything the report shows.
#[derive(Clone, Debug, Default)]
pub struct ReportModel {
    /// Title.
    pub title: String,
    /// When it was produced (already formatted).
    pub generated_at: String,
    /// Per channel.
    pub channels: Vec<ChannelSummary>,
    /// P&L rows.
    pub pnl: BTreeMap<PnlKey, ChannelPnl>,
    /// KPIs.
    pub kpis: Kpis,
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const PALETTE: [&str; 6] = [
    "#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2",
];

/// One bar of a chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    /// Label left of the bar.
    pub label: String,
    /// Value (sign decides the side of the axis).
    pub value: rust_decimal::Decimal,
    /// Exact text printed right of the chart.
    pub text: String,
}

impl Bar {
    /// A money bar; the text is the exact amount with its currency.
    pub fn money(label: impl Into<String>, m: Money) -> Bar {
        Bar {
            label: label.into(),
            value: m.amount,
            text: m.to_string(),
        }
    }

    /// A count bar.
    pub fn count(label: impl Into<String>, n: u64) -> Bar {
        Bar {
            label: label.into(),
            value: rust_decimal::Decimal::from(n),
            text: n.to_string(),
        }
    }
}

/// A horizontal bar chart as inline SVG. Values may be negative (bars go left of the axis).
/// Values become `f64` only for geometry; every label prints the exact text.
pub fn bar_chart(title: &str, bars: &[Bar]) -> String {
    let row_h = 26.0;
    let label_w = 220.0;
    let chart_w = 420.0;
    let height = 40.0 + row_h * bars.len() as f64;
    let max = bars.iter().map(|b| b.value.abs()).max().unwrap_or_default();
    let has_negative = bars
        .iter()
        .any(|b| b.value.is_sign_negative() && !b.value.is_zero());
    let scale = |v: rust_decimal::Decimal| -> f64 {
        if max.is_zero() {
            0.0
        } else {
            let ratio = (v.abs() / max).round_dp(4);
            ratio.to_string().parse::<f64>().unwrap_or(0.0)
                * if has_negative { chart_w / 2.0 } else { chart_w }
        }
    };
    let axis = if has_negative {
        label_w + chart_w / 2.0
    } else {
        label_w
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<figure><figcaption>{}</figcaption><svg role="img" aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(title),
        escape(title),
        label_w + chart_w + 170.0,
        height,
        label_w + chart_w + 170.0,
        height
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = 20.0 + row_h * i as f64;
        let w = scale(bar.value);
        let x = if bar.value.is_sign_negative() {
            axis - w
        } else {
            axis
        };
        let colour = PALETTE[i % PALETTE.len()];
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="13">{}</text><rect x="{x:.1}" y="{}" width="{w:.1}" height="{}" fill="{colour}"><title>{}</title></rect><text x="{}" y="{}" font-size="12">{}</text>"#,
            label_w - 8.0,
            y + 14.0,
            escape(&bar.label),
            y + 2.0,
            row_h - 8.0,
            escape(&bar.text),
            label_w + chart_w + 6.0,
            y + 14.0,
            escape(&bar.text),
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{axis}" y1="12" x2="{axis}" y2="{}" stroke="#444"/></svg></figure>"##,
        height - 8.0
    );
    svg
}

fn money_cell(m: &Money) -> String {
    format!("<td class=\"num\">{}</td>", escape(&m.to_string()))
}

/// Renders the report.
pub fn render(model: &ReportModel) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2rem;color:#111}}h1{{font-size:1.6rem}}\
         table{{border-collapse:collapse;margin:1rem 0;font-size:.85rem}}td,th{{border:1px solid #ccc;padding:3px 6px}}\
         th{{background:#f3f4f6}}.num{{text-align:right;font-variant-numeric:tabular-nums}}\
         figure{{margin:1rem 0}}figcaption{{font-weight:600;margin-bottom:.3rem}}</style></head><body>\
         <h1>{t}</h1><p>Generated {g}</p>",
        t = escape(&model.title),
        g = escape(&model.generated_at)
    );

    h.push_str("<h2>Channels</h2><table><tr><th>channel</th><th>fetched</th><th>posted</th><th>duplicates suppressed</th><th>refunds posted</th><th>settlements reconciled</th><th>exceptions</th></tr>");
    for c in &model.channels {
        let ex: Vec<String> = c
            .exceptions
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&c.channel),
            c.orders_fetched,
            c.orders_posted,
            c.duplicates_suppressed,
            c.refunds_posted,
            c.settlements_reconciled,
            escape(&ex.join(", "))
        );
    }
    h.push_str("</table>");

    h.push_str("<h2>Channel P&amp;L</h2><table><tr><th>channel</th><th>shop</th><th>month</th><th>orders</th><th>gross sales</th><th>seller discounts</th><th>platform discounts</th><th>refunds</th><th>net sales</th><th>fees</th><th>marketplace tax</th><th>COGS</th><th>contribution</th></tr>");
    let mut per_currency: BTreeMap<Currency, BTreeMap<String, (Money, Money, Money)>> =
        BTreeMap::new();
    let mut fees: BTreeMap<Currency, BTreeMap<String, Money>> = BTreeMap::new();
    for (k, r) in &model.pnl {
        let total_fees = r.total_fees().unwrap_or(Money::zero(k.currency));
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>{}{}{}{}{}{}{}{}{}</tr>",
            escape(&k.channel.to_string()),
            escape(k.shop.as_str()),
            escape(&k.month),
            r.orders,
            money_cell(&r.gross_sales),
            money_cell(&r.seller_discounts),
            money_cell(&r.platform_discounts),
            money_cell(&r.refunds),
            money_cell(&r.net_sales),
            money_cell(&total_fees),
            money_cell(&r.marketplace_collected_tax),
            r.cogs
                .as_ref()
                .map_or("<td>n/a</td>".to_owned(), money_cell),
            money_cell(&r.contribution_margin),
        );
        let z = Money::zero(k.currency);
        let slot = per_currency
            .entry(k.currency)
            .or_default()
            .entry(k.channel.to_string())
            .or_insert((z, z, z));
        slot.0 = slot.0.checked_add(&r.net_sales).unwrap_or(slot.0);
        slot.1 = slot.1.checked_add(&total_fees).unwrap_or(slot.1);
        slot.2 = slot.2.checked_add(&r.contribution_margin).unwrap_or(slot.2);
        for (code, m) in &r.fees {
            let f = fees
                .entry(k.currency)
                .or_default()
                .entry(code.clone())
                .or_insert(z);
            *f = f.checked_add(m).unwrap_or(*f);
        }
    }
    h.push_str("</table>");
    for (c, rows) in &per_currency {
        let mut bars = Vec::new();
        for (ch, (net, fee, contrib)) in rows {
            bars.push(Bar::money(format!("{ch} net sales"), *net));
            bars.push(Bar::money(format!("{ch} fees"), fee.neg()));
            bars.push(Bar::money(format!("{ch} contribution"), *contrib));
        }
        h.push_str(&bar_chart(&format!("P&L by channel ({c})"), &bars));
    }
    h.push_str("<h2>Fees by type</h2>");
    for (c, by_code) in &fees {
        let bars: Vec<_> = by_code
            .iter()
            .map(|(k, v)| Bar::money(k.clone(), *v))
            .collect();
        h.push_str(&bar_chart(&format!("Fees by type ({c})"), &bars));
    }

    h.push_str("<h2>Exceptions by reason</h2>");
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for c in &model.channels {
        for (k, v) in &c.exceptions {
            *reasons.entry(k.clone()).or_default() += v;
        }
    }
    if reasons.is_empty() {
        h.push_str("<p>No exceptions.</p>");
    } else {
        let bars: Vec<_> = reasons
            .iter()
            .map(|(k, v)| Bar::count(k.clone(), *v))
            .collect();
        h.push_str(&bar_chart("Exceptions (count)", &bars));
    }

    let k = &model.kpis;
    let latency = |l: &marketsync_pipeline::report::LatencySummary, unit_ms: bool| {
        if l.count == 0 {
            "n/a (not measured in this run)".to_owned()
        } else if unit_ms {
            format!("{} ms / {} ms", l.p50.as_millis(), l.p95.as_millis())
        } else {
            format!("{} s / {} s", l.p50.as_secs(), l.p95.as_secs())
        }
    };
    let _ = writeln!(
        h,
        "<h2>KPIs</h2><table>\
         <tr><th>records received</th><td class=\"num\">{}</td></tr>\
         <tr><th>ingestion success rate</th><td class=\"num\">{:.2}%</td></tr>\
         <tr><th>duplicate rate</th><td class=\"num\">{:.2}%</td></tr>\
         <tr><th>share needing manual action</th><td class=\"num\">{:.2}%</td></tr>\
         <tr><th>inventory update latency p50 / p95</th><td class=\"num\">{}</td></tr>\
         <tr><th>settlement reconciliation cycle p50 / p95</th><td class=\"num\">{}</td></tr>\
         {}</table></body></html>",
        k.received,
        k.ingestion_success_rate * 100.0,
        k.duplicate_rate * 100.0,
        k.manual_action_share * 100.0,
        escape(&latency(&k.inventory_update_latency, true)),
        escape(&latency(&k.settlement_reconciliation_cycle, false)),
        k.inventory_turnover
            .iter()
            .map(|(ch, t)| format!(
                "<tr><th>inventory turnover {}</th><td class=\"num\">{t:.2}×</td></tr>",
                escape(ch)
            ))
            .collect::<String>(),
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_draws_signed_bars() {
        assert_eq!(escape("<a&'\">"), "&lt;a&amp;&#39;&quot;&gt;");
        let svg = bar_chart(
            "t",
            &[
                Bar::money("up", Money::from_minor(1000, Currency::CNY)),
                Bar::money("down", Money::from_minor(-500, Currency::CNY)),
                Bar::count("n", 3),
            ],
        );
        assert!(svg.contains("10.00 CNY") && svg.contains("-5.00 CNY"));
        assert_eq!(svg.matches("<rect").count(), 3);
    }
}
