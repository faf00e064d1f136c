from django.contrib.auth.decorators import login_required
from django.urls import path
from django.views.generic import RedirectView

from danhba.messaging.views import campaigns, domains, esp, public, templates, tracked

app_name = "messaging"
urlpatterns = [
    # /email/ itself: the campaigns are the section's first page.
    path("", login_required(RedirectView.as_view(pattern_name="messaging:campaigns")), name="home"),
    path("templates/", templates.template_list, name="list"),
    path("templates/new/", templates.template_create, name="create"),
    path("templates/preview/", templates.preview, name="preview"),
    path("templates/preview/<str:key>/", templates.preview_frame, name="frame"),
    path("templates/<int:pk>/", templates.template_edit, name="edit"),
    path("templates/<int:pk>/delete/", templates.template_delete, name="delete"),
    path("templates/<int:pk>/links/", templates.link_check, name="links"),
    path("templates/<int:pk>/test/", templates.test_send, name="test"),
    path("campaigns/", campaigns.campaign_list, name="campaigns"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/edit/", campaigns.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/delete/", campaigns.campaign_delete, name="campaign_delete"),
    path("campaigns/<int:pk>/variants/", campaigns.variant_create, name="variant_create"),
    path("campaigns/<int:pk>/variants/<int:variant_id>/delete/", campaigns.variant_delete, name="variant_delete"),
    path("campaigns/<int:pk>/variants/<int:variant_id>/pick/", campaigns.variant_pick, name="variant_pick"),
    path("campaigns/<int:pk>/<str:action>/", campaigns.campaign_action, name="campaign_action"),
    path("domains/", domains.domain_list, name="domains"),
    path("domains/<int:pk>/", domains.domain_detail, name="domain"),
    path("domains/<int:pk>/check/", domains.domain_check, name="domain_check"),
    path("domains/<int:pk>/delete/", domains.domain_delete, name="domain_delete"),
    # From the emails themselves: no account, a signed token.
    path("unsubscribe/<str:token>/", public.unsubscribe_page, name="unsubscribe"),
    path("preferences/<str:token>/", public.preferences_page, name="preferences"),
    # From the configured ESP (django-anymail's webhook view and authentication).
    path("esp/<str:esp>/tracking/", esp.esp_tracking, name="esp_tracking"),
    path("o/<str:token>.gif", tracked.open_pixel, name="open"),
    path("c/<str:token>/", tracked.click, name="click"),
]
