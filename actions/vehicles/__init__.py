"""Questions about the cars: models and recommendations, prices, presentation, equipment,
comparisons and stock, each answered from the dealership's data and ending with a next step."""

from actions.vehicles.catalog import ActionAnswerModels, ActionAnswerPrice
from actions.vehicles.equipment import ActionAnswerFeature, ActionAnswerStock
from actions.vehicles.follow_up import ActionRouteStatement, ActionUnsure
from actions.vehicles.presentation import ActionAnswerModelInfo, ActionCompareModels

__all__ = [
    "ActionAnswerFeature", "ActionAnswerModelInfo", "ActionAnswerModels", "ActionAnswerPrice",
    "ActionAnswerStock", "ActionCompareModels", "ActionRouteStatement", "ActionUnsure",
]  # fmt: skip
