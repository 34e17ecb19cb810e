//! The GraphQL documents the connector sends, and their calculated costs.
//!
//! Shopify charges a query by its *requested* cost before running it: 0 for a scalar or enum
//! field, 1 for an object, `2 + first × (cost of one node)` for a connection (or a list taking
//! `first`), 10 for a mutation; one query may cost at most 1000 points. The constants below
//! are worked out from the documents with those rules, and the orders page size is clamped so
//! a page never exceeds the limit.

/// `MoneyBag { shopMoney { … } presentmentMoney { … } }` (cost 3).
macro_rules! money_bag {
    () => {
        "{ shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }"
    };
}

/// A discount allocation with the application it comes from (cost 5).
macro_rules! discount_allocations {
    () => {
        concat!(
            "discountAllocations { allocatedAmountSet ",
            money_bag!(),
            " discountApplication { __typename allocationMethod targetType",
            " ... on DiscountCodeApplication { code }",
            " ... on AutomaticDiscountApplication { title }",
            " ... on ManualDiscountApplication { title }",
            " ... on ScriptDiscountApplication { title } } }"
        )
    };
}

/// Tax lines (cost 4).
macro_rules! tax_lines {
    () => {
        concat!(
            "taxLines { title rate priceSet ",
            money_bag!(),
            " channelLiable }"
        )
    };
}

/// One line item node (cost 15).
macro_rules! line_item_fields {
    () => {
        concat!(
            "id sku title quantity variant { id } product { id } originalUnitPriceSet ",
            money_bag!(),
            " ",
            discount_allocations!(),
            " ",
            tax_lines!()
        )
    };
}

/// One order node (cost 278: 1 + totalPriceSet 3 + shippingAddress 1 + lineItems 152 +
/// shippingLines 41 + fulfillments 80).
macro_rules! order_fields {
    () => {
        concat!(
            "id name createdAt updatedAt processedAt cancelledAt cancelReason closed test ",
            "displayFinancialStatus displayFulfillmentStatus currencyCode presentmentCurrencyCode ",
            "taxesIncluded totalPriceSet ",
            money_bag!(),
            " paymentGatewayNames email phone ",
            "shippingAddress { name address1 address2 city provinceCode zip countryCodeV2 phone } ",
            "lineItems(first: 10) { nodes { ",
            line_item_fields!(),
            " } pageInfo { hasNextPage endCursor } } ",
            "shippingLines(first: 3) { nodes { title originalPriceSet ",
            money_bag!(),
            " ",
            discount_allocations!(),
            " ",
            tax_lines!(),
            " } } ",
            "fulfillments(first: 3) { id status createdAt trackingInfo(first: 1) { company number } ",
            "fulfillmentLineItems(first: 10) { nodes { lineItem { id } quantity } } }"
        )
    };
}

/// Shopify's single-query cost limit.
pub const MAX_QUERY_COST: u32 = 1000;
/// Requested cost of one order node in [`ORDERS`].
pub const ORDER_NODE_COST: u32 = 278;
/// Requested cost of one order node in [`REFUNDS`].
pub const REFUND_ORDER_NODE_COST: u32 = 351;
/// Requested cost of one payout node in [`PAYOUTS`].
pub const PAYOUT_NODE_COST: u32 = 2;
/// Shopify's largest `first`.
pub const MAX_FIRST: u32 = 250;

/// The largest page whose requested cost stays under the limit.
pub fn max_page(node_cost: u32, overhead: u32) -> u32 {
    ((MAX_QUERY_COST - overhead - 2) / node_cost).clamp(1, MAX_FIRST)
}

/// Orders updated in a window, oldest change first.
pub const ORDERS: &str = concat!(
    "query Orders($first: Int!, $after: String, $query: String) { ",
    "orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { nodes { ",
    order_fields!(),
    " } pageInfo { hasNextPage endCursor } } }"
);

/// The remaining line items of a large order (cost 753).
pub const ORDER_LINE_ITEMS: &str = concat!(
    "query OrderLineItems($id: ID!, $after: String) { order(id: $id) { ",
    "lineItems(first: 50, after: $after) { nodes { ",
    line_item_fields!(),
    " } pageInfo { hasNextPage endCursor } } } }"
);

/// Refunds of orders updated in a window (order node cost 351).
pub const REFUNDS: &str = concat!(
    "query Refunds($first: Int!, $after: String, $query: String) { ",
    "orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { nodes { ",
    "id currencyCode taxesIncluded refunds(first: 3) { id createdAt updatedAt note ",
    "totalRefundedSet ",
    money_bag!(),
    " refundLineItems(first: 10) { nodes { lineItem { id sku } quantity restockType subtotalSet ",
    money_bag!(),
    " totalTaxSet ",
    money_bag!(),
    " } } refundShippingLines(first: 2) { nodes { subtotalAmountSet ",
    money_bag!(),
    " taxAmountSet ",
    money_bag!(),
    " } } transactions(first: 3) { nodes { kind status gateway amountSet ",
    money_bag!(),
    " } } } } pageInfo { hasNextPage endCursor } } }"
);

/// Shopify Payments payouts issued in a window (overhead 1 for the account object).
pub const PAYOUTS: &str = concat!(
    "query Payouts($first: Int!, $after: String, $query: String) { shopifyPaymentsAccount { ",
    "payouts(first: $first, after: $after, query: $query) { nodes { ",
    "id legacyResourceId issuedAt status transactionType net { amount currencyCode } ",
    "} pageInfo { hasNextPage endCursor } } } }"
);

/// Balance transactions of one payout (cost 503).
pub const BALANCE_TRANSACTIONS: &str = concat!(
    "query BalanceTransactions($after: String, $query: String) { shopifyPaymentsAccount { ",
    "balanceTransactions(first: 100, after: $after, query: $query) { nodes { ",
    "id type test amount { amount currencyCode } fee { amount currencyCode } ",
    "net { amount currencyCode } transactionDate adjustmentReason associatedOrder { id } ",
    "} pageInfo { hasNextPage endCursor } } } }"
);

/// Shop details (health check).
pub const SHOP: &str = "query Shop { shop { name currencyCode ianaTimezone } }";

/// Variants by SKU (to find the inventory item).
pub const VARIANTS_BY_SKU: &str = "query VariantsBySku($query: String!) { productVariants(first: 5, query: $query) { nodes { sku inventoryItem { id } } } }";

/// Sets available quantities, with an idempotency key (API versions ≥ 2026-01).
pub const SET_QUANTITIES_IDEMPOTENT: &str = "mutation SetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) { inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) { inventoryAdjustmentGroup { id reason } userErrors { code field message } } }";

/// Sets available quantities (API versions before 2026-01, which lack `@idempotent`; the key
/// travels in `referenceDocumentUri`).
pub const SET_QUANTITIES: &str = "mutation SetQuantities($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { inventoryAdjustmentGroup { id reason } userErrors { code field message } } }";

/// An order's fulfilment orders and existing fulfilments (cost 380).
pub const FULFILLMENT_ORDERS: &str = "query FulfillmentOrders($id: ID!) { order(id: $id) { id fulfillments(first: 10) { id status trackingInfo(first: 3) { company number } } fulfillmentOrders(first: 5) { nodes { id status lineItems(first: 30) { nodes { id remainingQuantity lineItem { id } } } } } } }";

/// Creates a fulfilment.
pub const FULFILLMENT_CREATE: &str = "mutation FulfillmentCreate($fulfillment: FulfillmentInput!) { fulfillmentCreate(fulfillment: $fulfillment) { fulfillment { id status } userErrors { field message } } }";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_respect_the_cost_limit() {
        assert_eq!(max_page(ORDER_NODE_COST, 0), 3);
        const { assert!(2 + 3 * ORDER_NODE_COST <= MAX_QUERY_COST) };
        assert_eq!(max_page(REFUND_ORDER_NODE_COST, 0), 2);
        assert_eq!(max_page(PAYOUT_NODE_COST, 1), 250);
        assert!(ORDERS.contains("sortKey: UPDATED_AT"));
        assert!(!ORDERS.contains("!!"));
    }
}
