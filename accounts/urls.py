from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("admin-area/", views.admin_area, name="admin_area"),
    path("admin-area/people/", views.people_list, name="people"),
    path("admin-area/people/invite/", views.invite, name="invite"),
    path("admin-area/people/<int:user_id>/invite/", views.reinvite, name="reinvite"),
    path("admin-area/people/<int:user_id>/role/", views.change_role, name="change_role"),
    path("admin-area/people/<int:user_id>/deactivate/", views.deactivate, name="deactivate"),
    path("admin-area/people/<int:user_id>/reactivate/", views.reactivate, name="reactivate"),
]
