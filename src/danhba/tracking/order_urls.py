from django.urls import path

from danhba.tracking import order_views

app_name = "orders"
urlpatterns = [
    path("orders/", order_views.order_list, name="list"),
    path("orders/<path:order_id>/", order_views.order_detail, name="detail"),
    path("products/", order_views.product_list, name="products"),
]
