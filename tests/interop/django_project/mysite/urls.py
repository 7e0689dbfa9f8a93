"""No HTTP views: the tests talk WebSocket and channel layer only."""

urlpatterns = []
