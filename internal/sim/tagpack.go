package sim

import (
	"bufio"
	"fmt"
)

// writeTagPack writes what an investigator knows at the start: the hot
// wallets of two exchanges (from their proof-of-reserves pages), the
// campaign's advertised Tron address (OSINT), and a list hit: the money
// changer's address in an authority's seizure order. Everything else must
// be discovered.
func (s *Sim) writeTagPack(w *bufio.Writer) error {
	fmt.Fprintf(w, "title: spoor sim starting knowledge (seed %d)\n", s.cfg.Seed)
	w.WriteString("creator: spoor sim\n")
	w.WriteString("description: What an investigator knows before the case starts; the rest must be discovered.\n")
	w.WriteString("is_public: false\n")
	w.WriteString("lastmod: " + unixTime(s.start).Format("2006-01-02") + "\n")
	w.WriteString("tags:\n")
	tag := func(addr int32, label, source, confidence, category, abuse, actor, concepts, context string, definer bool) {
		a := &s.addrs[addr]
		fmt.Fprintf(w, "- address: '%s'\n  currency: %s\n  label: %s\n  source: %s\n  confidence: %s\n",
			s.display(addr), a.chain.NativeSymbol(), yamlQuote(label), yamlQuote(source), confidence)
		if category != "" {
			fmt.Fprintf(w, "  category: %s\n", category)
		}
		if abuse != "" {
			fmt.Fprintf(w, "  abuse: %s\n", abuse)
		}
		if actor != "" {
			fmt.Fprintf(w, "  actor: %s\n", actor)
		}
		if concepts != "" {
			fmt.Fprintf(w, "  concepts: [%s]\n", concepts)
		}
		if context != "" {
			fmt.Fprintf(w, "  context: %s\n", yamlQuote(context))
		}
		fmt.Fprintf(w, "  is_cluster_definer: %t\n", definer)
	}
	for _, ex := range []*custodian{s.exchanges[0], s.exchanges[1]} {
		for ci := range chainByIndex {
			tag(s.main(ex.hot[ci]), ex.actor.Name+" hot wallet", "https://example.org/"+ex.actor.Name+"/proof-of-reserves",
				"service_data", "exchange", "", ex.actor.ID, "exchange", "", true)
		}
	}
	tag(s.main(s.tf.campaign.w[ciTron]), "Campaign Falcon donation address (USDT)", "OSINT: Telegram channel post asking for donations",
		"web_crawl", "", "terrorism", "", "terrorism_financing", `{"channel": "t.me/falcon_campaign_sim"}`, false)
	tag(s.main(s.tf.changer.w[ciTron]), "Al-Noor Exchange Office (seizure order)", "Authority seizure order (simulated list)",
		"authority_data", "", "terrorism", "", "terrorism_financing, sanction", "", false)
	tag(s.main(s.noise.mixer.hot[ciBTC]), "Tumbly mixer", "https://example.org/mixer-watch",
		"web_crawl", "mixing_service", "", "", "mixing_service", "", false)
	return w.Flush()
}

func yamlQuote(s string) string { return fmt.Sprintf("%q", s) }
