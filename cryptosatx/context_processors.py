from marketdata.models import data_is_simulated


def data_source(request):
    """Every page says when its data come from the market simulator."""
    return {"data_simulated": data_is_simulated()}
