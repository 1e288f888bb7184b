from django.urls import path

from insights import views

app_name = "insights"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("feedback/", views.item_list, name="item_list"),
]
