from django.urls import path

app_name = "mailing"
urlpatterns = []
