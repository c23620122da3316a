"""`manage.py send_campaign ID`: build the audience, then send in-process or watch the workers."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from subscriptions.models import Campaign

from ...campaigns import sending
from ...campaigns.audience import campaign_build_audience
from ...campaigns.lifecycle import (
    STARTABLE,
    CampaignStateError,
    campaign_finish_if_done,
    campaign_resume,
    campaign_start,
)
from ...campaigns.messages import FromNotAllowed, InvalidCampaignTemplate
from ...campaigns.stats import campaign_stats
from ...models.choices import CampaignStatus


class Command(BaseCommand):
    help = "Send a campaign to everyone marketable on its topic, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument(
            "--workers",
            action="store_true",
            help="Queue the batches for the Celery marketing workers and watch their progress.",
        )
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, campaign_id: int, workers: bool, batch_size: int | None, **options):
        campaign = Campaign.objects.select_related("topic").filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"No campaign with id {campaign_id}.")
        try:
            if campaign.status in STARTABLE:
                campaign_start(campaign=campaign, enqueue=workers)
            elif campaign.status == CampaignStatus.PAUSED:
                campaign_resume(campaign=campaign, enqueue=workers)
            elif campaign.status != CampaignStatus.SENDING:
                raise CommandError(f"Campaign {campaign_id} is {campaign.status}.")
        except (InvalidCampaignTemplate, FromNotAllowed, CampaignStateError) as exc:
            raise CommandError(str(exc)) from exc
        if not workers:
            campaign_build_audience(campaign=campaign)
        stats = campaign_stats(campaign)
        with tqdm(total=stats["audience"], unit="msg", desc=campaign.name[:30]) as bar:
            while True:
                if workers:
                    time.sleep(0.5)
                else:
                    sending.send_batch(campaign=campaign, size=batch_size)
                stats = campaign_stats(campaign)
                bar.total = stats["audience"]
                bar.n = stats["audience"] - stats["pending"]
                bar.set_postfix(
                    sent=stats["sent"], skipped=stats["skipped"], failed=stats["failed"]
                )
                if not workers and not stats["pending"]:
                    campaign_finish_if_done(campaign=campaign)
                campaign.refresh_from_db(fields=["status"])
                if campaign.status != CampaignStatus.SENDING:
                    break
                if not workers and stats["pending"] == stats["claimed"] and stats["claimed"]:
                    time.sleep(0.5)  # only other workers' claims are left
        self.stdout.write(
            f"Campaign {campaign.pk} {campaign.status}: sent {stats['sent']}, "
            f"skipped {stats['skipped']}, failed {stats['failed']}, pending {stats['pending']}."
        )
