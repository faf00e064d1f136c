from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "danhba.orders"
    label = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.contacts.extensions import (
            CONTACT_EXPORT_COLUMNS,
            CONTACT_LIST_FILTERS,
            CONTACT_PANELS,
            MERGE_TABLES,
            TIMELINE_SOURCES,
            ExportColumns,
            ListFilter,
            MergeTable,
            Panel,
            TimelineSource,
        )
        from danhba.core.demo import DemoPart, demo_part_add
        from danhba.orders import api, demo, intake, selectors, stats, views
        from danhba.tracking.hooks import DEVICES_IDENTIFIED, EVENTS_ACCEPTING, EVENTS_STORED

        # Before the tracking part, which sends the orders placed since the shop's tracking began.
        AUDIT_TYPES.add("order", AuditType(model="orders.Order", keys={"orders": _("orders")}))
        AUDIT_TYPES.add("product", AuditType(model="orders.Product"))
        part = DemoPart(floor=5, order=10, load=demo.demo_orders_part, labels=(("orders", "orders"),))
        demo_part_add("orders", part)
        # Orders from the event intake (intake.py).
        EVENTS_ACCEPTING.connect(intake.order_warnings)
        EVENTS_STORED.connect(intake.on_events_stored)
        DEVICES_IDENTIFIED.connect(intake.on_devices_identified)
        # A merge of contacts moves the orders; the purchase metrics follow them.
        merged = MergeTable(after=stats.stats_after_merge, undone=stats.stats_after_unmerge)
        MERGE_TABLES.add("orders.purchasestats", merged)
        # The contact page, list and exports show purchases (selectors.py).
        CONTACT_PANELS.add(
            "purchases",
            Panel("orders/_purchases_panel.html", views.purchases_panel, "main"),
        )
        TIMELINE_SOURCES.add(
            "orders",
            TimelineSource(
                rank=selectors.ORDER_RANK,
                permission=("order", "view"),
                kinds=((selectors.KIND_ORDERS, _("Orders")),),
                rows=selectors.timeline_orders,
                describe=api.timeline_describe,
            ),
        )
        CONTACT_LIST_FILTERS.add(
            "purchases",
            ListFilter(
                params=selectors.PURCHASE_PARAMS,
                parse=selectors.purchase_filters_parse,
                condition=selectors.purchase_filters_q,
                fields=selectors.purchase_filter_fields,
                after="created_before",
            ),
        )
        CONTACT_EXPORT_COLUMNS.add(
            "purchases",
            ExportColumns(
                columns=selectors.purchase_columns, values=selectors.purchase_values, missing={"order_count": 0}
            ),
        )
