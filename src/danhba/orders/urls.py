from django.urls import path

from danhba.orders import views

app_name = "orders"
urlpatterns = [
    path("orders/", views.order_list, name="list"),
    path("orders/<path:order_id>/", views.order_detail, name="detail"),
    path("products/", views.product_list, name="products"),
    path("products/new/", views.product_new, name="product_new"),
    path("products/<path:product_id>/edit/", views.product_edit, name="product_edit"),
]
